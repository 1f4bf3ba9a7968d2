"""The performance suite (boot time, RBD and network throughput against gate
profiles). Its tests come with the performance issue; see README.md."""
