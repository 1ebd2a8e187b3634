"""Command-line tools and benchmarks for memif-agent."""
