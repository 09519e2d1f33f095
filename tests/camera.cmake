# Tests of the One-Euro filter, the PID and the virtual camera (camera/), and
# of tracker + camera together on generated scenes.
ft_test(test_camera_filters SOURCES test_camera_filters.c LIBS ft_camera m TIMEOUT 60)
ft_test(test_camera_camera SOURCES test_camera_camera.c LIBS ft_camera m TIMEOUT 60)
ft_test(test_camera_scene SOURCES test_camera_scene.c LIBS ft_camera ft_track m TIMEOUT 60)
