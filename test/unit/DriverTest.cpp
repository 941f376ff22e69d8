//===- DriverTest.cpp - The runtime's internal driver layer on a fake GPU -===//
//
// Compiles runtime/lib/Driver.cpp (internal to libs2rt, so not reachable
// through the library) into the test and drives it against the fake
// libcuda (runtime/testing/FakeCuda.cpp): loading and its failure, the
// complete entry point table, the S2RT_CU check macro's statuses and
// messages, device resolution, the process-wide primary contexts,
// setCurrentDevice and ContextScope.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include "FakeCuda.h"

#include <dlfcn.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

using namespace s2rt_detail;

namespace {

std::string fakeDriverPath() {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void *>(&fake_cuda_reset), &info) ||
      !info.dli_fname)
    return "";
  return info.dli_fname;
}

/// A caller of S2RT_CU, as the runtime's entry points are.
s2rt_status createStream(const Driver &d, CUstream &s) {
  S2RT_CU(d, cuStreamCreate(&s, 0));
  return ok();
}

CUcontext current(const Driver &d) {
  CUcontext c = nullptr;
  EXPECT_EQ(d.cuCtxGetCurrent(&c), CUDA_SUCCESS);
  return c;
}

TEST(Driver, StatusHelpers) {
  EXPECT_EQ(fail(S2RT_ERROR_IO, "disk on fire"), S2RT_ERROR_IO);
  EXPECT_EQ(lastError(), "disk on fire");
  EXPECT_EQ(ok(), S2RT_SUCCESS);
  EXPECT_EQ(lastError(), "");
  EXPECT_EQ(cudaStatus(CUDA_ERROR_OUT_OF_MEMORY), S2RT_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(cudaStatus(CUDA_ERROR_INVALID_VALUE), S2RT_ERROR_CUDA);
}

// Runs before the fake is loaded (tests run in order within this file; the
// driver stays loaded once it loads).
TEST(Driver, LoadFailureIsNotCached) {
  EXPECT_EQ(loadedDriver(), nullptr);
  setenv("S2RT_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
  const Driver *d = nullptr;
  EXPECT_EQ(loadDriver(d), S2RT_ERROR_NO_DRIVER);
  EXPECT_NE(lastError().find(
                "cannot load the CUDA driver '/nonexistent/libcuda.so.1'"),
            std::string::npos)
      << lastError();
  setenv("S2RT_LIBCUDA", "libc.so.6", 1);
  EXPECT_EQ(loadDriver(d), S2RT_ERROR_NO_DRIVER);
  EXPECT_NE(lastError().find("lacks cuInit"), std::string::npos) << lastError();
  EXPECT_EQ(loadedDriver(), nullptr);
  unsetenv("S2RT_LIBCUDA");
}

class FakeDriver : public ::testing::Test {
protected:
  void SetUp() override {
    std::string path = fakeDriverPath();
    ASSERT_FALSE(path.empty());
    setenv("S2RT_LIBCUDA", path.c_str(), 1);
    fake_cuda_reset();
    ASSERT_EQ(loadDriver(d), S2RT_SUCCESS) << lastError();
    ASSERT_NE(d, nullptr);
  }
  void TearDown() override {
    fake_cuda_set_current(0);
    unsetenv("S2RT_LIBCUDA");
  }
  const Driver *d = nullptr;
};

TEST_F(FakeDriver, EveryEntryPointIsLoaded) {
  EXPECT_EQ(loadedDriver(), d);
#define S2RT_EXPECT_LOADED(fn) EXPECT_NE(d->fn, nullptr) << #fn;
  S2RT_DRIVER_FUNCTIONS(S2RT_EXPECT_LOADED)
  // The fake has the optional ones too (RuntimeTestCuda11 runs the runtime
  // on a fake without them).
  S2RT_OPTIONAL_DRIVER_FUNCTIONS(S2RT_EXPECT_LOADED)
#undef S2RT_EXPECT_LOADED
  // Calls reach the fake under cuda.h's versioned names (cuStreamDestroy is
  // cuStreamDestroy_v2, cuEventElapsedTime cuEventElapsedTime_v2).
  fake_cuda_set_current(1);
  CUstream s = nullptr;
  ASSERT_EQ(d->cuStreamCreate(&s, 0), CUDA_SUCCESS);
  CUevent a = nullptr, b = nullptr;
  ASSERT_EQ(d->cuEventCreate(&a, 0), CUDA_SUCCESS);
  ASSERT_EQ(d->cuEventCreate(&b, 0), CUDA_SUCCESS);
  ASSERT_EQ(d->cuEventRecord(a, s), CUDA_SUCCESS);
  ASSERT_EQ(d->cuEventRecord(b, s), CUDA_SUCCESS);
  float ms = 0;
  ASSERT_EQ(d->cuEventElapsedTime(&ms, a, b), CUDA_SUCCESS);
  EXPECT_EQ(ms, 1.0f);
  EXPECT_EQ(d->cuEventDestroy(a), CUDA_SUCCESS);
  EXPECT_EQ(d->cuEventDestroy(b), CUDA_SUCCESS);
  EXPECT_EQ(d->cuStreamDestroy(s), CUDA_SUCCESS);
  FakeStats st = fake_cuda_stats();
  EXPECT_EQ(st.streamsCreated, 1);
  EXPECT_EQ(st.streamsDestroyed, 1);
  EXPECT_EQ(st.eventsDestroyed, 2);
}

TEST_F(FakeDriver, CheckMacro) {
  fake_cuda_set_current(1);
  CUstream s = nullptr;
  ASSERT_EQ(createStream(*d, s), S2RT_SUCCESS);
  EXPECT_NE(s, nullptr);
  EXPECT_EQ(d->cuStreamDestroy(s), CUDA_SUCCESS);
  fake_cuda_fail_next("cuStreamCreate", CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(createStream(*d, s), S2RT_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(lastError(), "cuStreamCreate(&s, 0) failed: "
                         "CUDA_ERROR_OUT_OF_MEMORY (fake failure)");
  fake_cuda_set_current(0);
  EXPECT_EQ(createStream(*d, s), S2RT_ERROR_CUDA);
  EXPECT_NE(lastError().find("CUDA_ERROR_INVALID_CONTEXT"), std::string::npos)
      << lastError();
}

TEST_F(FakeDriver, DevicesAndContexts) {
  fake_cuda_set_devices(2, 9, 0, 227 * 1024);
  int dev = -7;
  CUcontext cur = reinterpret_cast<CUcontext>(uintptr_t(1));
  // No current context: device 0; an explicit device is kept.
  ASSERT_EQ(resolveDevice(*d, -1, dev, cur), S2RT_SUCCESS);
  EXPECT_EQ(dev, 0);
  EXPECT_EQ(cur, nullptr);
  ASSERT_EQ(resolveDevice(*d, 1, dev, cur), S2RT_SUCCESS);
  EXPECT_EQ(dev, 1);

  // Primary contexts: checked, retained once, kept.
  CUcontext c1 = nullptr, again = nullptr;
  EXPECT_EQ(primaryContext(*d, 2, c1), S2RT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(), "device 2 out of range: 2 CUDA device(s)");
  ASSERT_EQ(primaryContext(*d, 1, c1), S2RT_SUCCESS);
  ASSERT_EQ(primaryContext(*d, 1, again), S2RT_SUCCESS);
  EXPECT_EQ(c1, again);
  EXPECT_EQ(fake_cuda_stats().retains, 1);

  // setCurrentDevice replaces the current context; resolveDevice follows.
  CUcontext set = nullptr;
  ASSERT_EQ(setCurrentDevice(*d, 1, &set), S2RT_SUCCESS);
  EXPECT_EQ(set, c1);
  EXPECT_EQ(current(*d), c1);
  ASSERT_EQ(resolveDevice(*d, -1, dev, cur), S2RT_SUCCESS);
  EXPECT_EQ(dev, 1);
  EXPECT_EQ(cur, c1);
  CUcontext c0 = nullptr;
  ASSERT_EQ(setCurrentDevice(*d, 0, &c0), S2RT_SUCCESS);
  EXPECT_EQ(current(*d), c0);
  EXPECT_NE(c0, c1);
  EXPECT_EQ(fake_cuda_stats().setCurrents, 2);
  EXPECT_EQ(setCurrentDevice(*d, 5), S2RT_ERROR_INVALID_ARGUMENT);

  // ContextScope: nothing to do when current; else push, then pop.
  {
    ContextScope scope(*d, c0);
    EXPECT_EQ(scope.status(), S2RT_SUCCESS);
    EXPECT_EQ(fake_cuda_stats().pushes, 0);
  }
  {
    ContextScope scope(*d, c1);
    EXPECT_EQ(scope.status(), S2RT_SUCCESS);
    EXPECT_EQ(current(*d), c1);
    EXPECT_EQ(fake_cuda_stats().pushes, 1);
  }
  EXPECT_EQ(current(*d), c0);
  EXPECT_EQ(fake_cuda_stats().pops, 1);
  fake_cuda_fail_next("cuCtxPushCurrent", CUDA_ERROR_INVALID_VALUE);
  {
    ContextScope scope(*d, c1);
    EXPECT_EQ(scope.status(), S2RT_ERROR_CUDA);
    EXPECT_NE(lastError().find("cuCtxPushCurrent failed"), std::string::npos);
  }
  EXPECT_EQ(fake_cuda_stats().pops, 1);
  EXPECT_EQ(current(*d), c0);
}

} // namespace
