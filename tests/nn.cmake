# nn core: tensors and conversions, the activation arena, weights files
# (.pth / safetensors, the official RF-DETR fixture, every load error and the
# inspect command), and the thread pool.
ft_test(test_nn_tensor SOURCES test_nn_tensor.c LIBS ft_nn m)
ft_test(test_nn_weights SOURCES test_nn_weights.c LIBS ft_nn m)
ft_test(test_nn_threadpool SOURCES test_nn_threadpool.c LIBS ft_nn Threads::Threads)
