#include "common.h"

static Napi::Object InitPathwise(Napi::Env env, Napi::Object exports) {
  pw::InstallLibbpfPrint();
  pw::InitFd(env, exports);
  pw::InitObject(env, exports);
  pw::InitMaps(env, exports);
  pw::InitMmap(env, exports);
  pw::InitAttach(env, exports);
  pw::InitRingbuf(env, exports);
  pw::InitTestRun(env, exports);
  pw::InitMisc(env, exports);
  pw::InitPcap(env, exports);
  pw::InitProgLoad(env, exports);
  pw::InitNetlink(env, exports);
  pw::InitEthtool(env, exports);
  pw::InitBtfLayout(env, exports);
  pw::InitProber(env, exports);
  pw::InitScan(env, exports);
  pw::InitMaglev(env, exports);
  return exports;
}

NODE_API_MODULE(pathwise, InitPathwise)
