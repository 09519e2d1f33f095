# GPU tests of the CUDA backend (src/nn/cuda). They compile whenever CUDA is
# on and skip at run time when no GPU is usable.
if(FT_CUDA AND TARGET ft_nn)
    ft_test(test_nn_cuda_ops SOURCES test_nn_cuda_ops.c LIBS ft_nn)
endif()
if(FT_CUDA AND TARGET ft_detect)
    ft_test(test_nn_cuda_rfdetr SOURCES test_nn_cuda_rfdetr.c LIBS ft_detect TIMEOUT 600)
endif()
