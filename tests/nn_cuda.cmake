# GPU tests of the CUDA backend (src/nn/cuda). They compile whenever CUDA is
# on and skip at run time when no GPU is usable.
if(FT_CUDA AND TARGET ft_nn)
    ft_test(test_nn_cuda_ops SOURCES test_nn_cuda_ops.c LIBS ft_nn)
endif()
if(FT_CUDA AND TARGET ft_detect)
    ft_test(test_nn_cuda_rfdetr SOURCES test_nn_cuda_rfdetr.c LIBS ft_detect TIMEOUT 600)
    # Its out-of-memory case sizes a memory budget from the device's free
    # memory, which any other test using the GPU at the same time distorts
    # (on an H100 under `ctest -j 16` it measured 712 MiB instead of 206).
    set_tests_properties(test_nn_cuda_rfdetr PROPERTIES RUN_SERIAL TRUE)
endif()
# The CUDA benchmark without the program's video libraries (scripts/gpu-check.sh).
if(FT_CUDA AND TARGET ft_detect)
    add_executable(bench_nn_cuda ${PROJECT_SOURCE_DIR}/scripts/gpu/bench_main.c
                   ${PROJECT_SOURCE_DIR}/tools/bench/bench_rfdetr_cuda.c)
    target_include_directories(bench_nn_cuda PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR})
    target_link_libraries(bench_nn_cuda PRIVATE ft_detect)
endif()
# gpu-check's control flow (stage bodies stubbed): needs no GPU, runs everywhere.
ft_test(test_nn_cuda_gpucheck SOURCES test_nn_cuda_gpucheck.c ft_test_cmd.c TIMEOUT 120)
