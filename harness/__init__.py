"""End-to-end cluster test harness for Helm charts."""
