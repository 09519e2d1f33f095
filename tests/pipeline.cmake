ft_test(test_pipeline_batch SOURCES test_pipeline_batch.c ft_test_media.c LIBS ft_tools ft_pipeline TIMEOUT 180)
ft_test(test_pipeline_live SOURCES test_pipeline_live.c LIBS ft_pipeline TIMEOUT 120)
ft_test(test_pipeline_threads SOURCES test_pipeline_threads.c LIBS ft_tools ft_pipeline TIMEOUT 60)
