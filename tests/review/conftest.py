"""Review tests. pytest puts this folder on sys.path (a conftest.py without __init__.py), so
e2e/ can import test_review_store's helpers even when run alone."""
