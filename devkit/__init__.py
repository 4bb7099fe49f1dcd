"""Developer tools: the demo, its headless walkthrough, the touch driver, a staged facility."""
