Concurrent requests for a file that is not cached yet share one upstream download per content-app process, ranges included; a client never receives a whole file that failed verification.
