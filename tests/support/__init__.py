"""Helpers shared by the test suites: free ports, waiting on conditions, real processes."""
