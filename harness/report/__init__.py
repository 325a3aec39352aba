"""Rendering results from the run's scenario records: the gate's HTML and Markdown report
(render), figures with their units (figures), the terminal summary table (table), JUnit merging."""
