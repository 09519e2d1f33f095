# Tests of the Kalman filter and the ball tracker (track/).
ft_test(test_track_tracker SOURCES test_track_tracker.c LIBS ft_track m TIMEOUT 60)
