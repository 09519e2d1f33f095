/* Backend selection by device name. The one place that knows which backends
 * were built. */
#include <string.h>

#include "core/log.h"
#include "nn/backend.h"

ft_status ft_nn_backend_create(const ft_nn_backend_params *params, ft_nn_backend **out)
{
    const char *dev = params && params->device ? params->device : "cpu";
    if (!strcmp(dev, "auto")) {
#ifdef FT_HAVE_CUDA
        if (ft_nn_cuda_backend_create(params, out) == FT_OK)
            return FT_OK;
        FT_LOGW("nn", "device auto: no usable GPU, running on the CPU");
#endif
        return ft_nn_cpu_backend_create(params, out);
    }
    if (!strcmp(dev, "cpu"))
        return ft_nn_cpu_backend_create(params, out);
    if (!strncmp(dev, "cuda", 4) && (dev[4] == '\0' || dev[4] == ':')) {
#ifdef FT_HAVE_CUDA
        return ft_nn_cuda_backend_create(params, out);
#else
        FT_LOGE("nn", "device '%s': this build has no CUDA backend (rebuild with nvcc available)",
                dev);
        return FT_ERR_GPU;
#endif
    }
    FT_LOGE("nn", "unknown device '%s' (expected auto, cpu, cuda or cuda:N)", dev);
    return FT_ERR_CONFIG;
}

void ft_nn_backend_destroy(ft_nn_backend **be)
{
    if (be && *be) {
        (*be)->ops->destroy(*be);
        *be = NULL;
    }
}
