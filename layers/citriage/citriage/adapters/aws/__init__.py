"""The only code that talks to AWS (boto3): one module per service."""
