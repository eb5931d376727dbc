#include "blobstate/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace blobstate {
namespace {

TEST(StatusTest, OkHasNoMessageAndIsNotRetriable) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_FALSE(s.IsRetriable());
  EXPECT_FALSE(s.IsIgnorable());
}

TEST(StatusTest, CodesAreClassified) {
  EXPECT_TRUE(UnavailableError("x").IsRetriable());
  EXPECT_TRUE(DeadlineExceededError("x").IsRetriable());
  EXPECT_TRUE(ResourceExhaustedError("x").IsRetriable());
  EXPECT_TRUE(GoneError("x").IsIgnorable());
  EXPECT_FALSE(GoneError("x").IsRetriable());
  for (const Status& permanent :
       {InvalidArgumentError("x"), NotFoundError("x"), PermissionDeniedError("x"),
        DataLossError("x"), InternalError("x"), FailedPreconditionError("x")}) {
    EXPECT_FALSE(permanent.IsRetriable()) << permanent;
    EXPECT_FALSE(permanent.IsIgnorable()) << permanent;
  }
}

TEST(StatusTest, ContextIsPrependedAndOkStaysOk) {
  Status s = NotFoundError("no such blob").WithContext("get blob abc").WithContext("store s1");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "store s1: get blob abc: no such blob");
  EXPECT_EQ(s.ToString(), "NOT_FOUND: store s1: get blob abc: no such blob");
  EXPECT_TRUE(Status::Ok().WithContext("anything").ok());
}

TEST(StatusTest, ErrnoMapsToCodes) {
  EXPECT_EQ(ErrnoError("open /x", ENOENT).code(), StatusCode::kNotFound);
  EXPECT_EQ(ErrnoError("open /x", EACCES).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoError("open /x", EEXIST).code(), StatusCode::kAlreadyExists);
  EXPECT_NE(ErrnoError("open /x", ENOENT).message().find("open /x"), std::string::npos);
}

Result<int> Half(int x) {
  if (x % 2) return InvalidArgumentError("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x));
  return Status::Ok();
}

TEST(ResultTest, MacrosPropagateFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "odd: 3");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(5).code(), StatusCode::kInvalidArgument);
}

TEST(ResultTest, HoldsMoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
  Result<void> v;
  EXPECT_TRUE(v.ok());
  Result<void> e = NotFoundError("x");
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
}

TEST(StatusTest, ResultOfAnOkStatusIsAnInternalErrorNeverASuccess) {
  Result<int> r = Status::Ok();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_NE(r.status().message().find("OK status"), std::string::npos) << r.status();
}

TEST(StatusTest, FullDiskIsPermanentNotRetried) {
  for (int err : {ENOSPC, EDQUOT}) {
    Status s = ErrnoError("write /x", err);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s;
    EXPECT_FALSE(s.IsRetriable()) << s;
  }
}

}  // namespace
}  // namespace blobstate
