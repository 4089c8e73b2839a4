// Preloaded into a host by the tests (LD_PRELOAD): seeds libtorch's default CPU generator when the host
// starts, from RAVE_TO_CHAOS_TORCH_SEED, as torch.manual_seed does in Python. nn~ and nn.ar never seed
// torch, and RAVE draws noise, so only then does a trained export draw in the host exactly what
// `audition render --seed S` draws. The hosts themselves are unchanged.
#include <ATen/CPUGeneratorImpl.h>
#include <cstdlib>
#include <mutex>

__attribute__((constructor)) static void seed_torch() {
  const char *seed = std::getenv("RAVE_TO_CHAOS_TORCH_SEED");
  if (seed == nullptr) return;
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_current_seed(std::strtoull(seed, nullptr, 10));
}
