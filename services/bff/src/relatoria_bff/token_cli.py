"""`relatoria-token`: print a development bearer token (HS* deployments)."""

import argparse

from relatoria_bff.auth import issue_token
from relatoria_shared.settings import Settings


def main() -> None:
    """Print a token for `--sub` signed with RELATORIA_JWT_SECRET."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sub", default="dev-user", help="the owner the token speaks for")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    args = parser.parse_args()
    print(issue_token(Settings(), args.sub, args.ttl))


if __name__ == "__main__":
    main()
