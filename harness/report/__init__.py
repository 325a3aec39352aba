"""Rendering results: the gate's HTML and Markdown report, JUnit merging."""
