"""The studio: the page's Python (record, train, evaluate, live). Browser-only code lives
here; everything that can run without a browser lives in the `mimic` core package."""
