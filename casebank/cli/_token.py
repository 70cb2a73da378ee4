"""`cases token create | list | revoke`: the API tokens that `cases serve` accepts.

A token is 32 random bytes (URL-safe base64 after `cb_`), printed once by `create`; the store keeps
only `token_hash(secret)`, so a lost token is revoked and made again, never recovered.
"""

from __future__ import annotations

import secrets
import sys
from typing import Annotated

import typer

from casebank.cli import app
from casebank.cli._common import DbOption, JsonFlag, open_store, print_json
from casebank.store import TOKEN_SCOPES, token_hash

__all__ = ["create", "list_tokens", "new_secret", "revoke"]

token_app = typer.Typer(
    name="token",
    help="API tokens for 'cases serve': create, list, revoke.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(token_app, name="token")


def new_secret() -> str:
    """A new token's secret: `cb_` and 32 random bytes, URL-safe (fits a header and a shell)."""
    return "cb_" + secrets.token_urlsafe(32)


@token_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="Who or what uses the token, e.g. support.")],
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            metavar="SCOPE",
            help=f"What the token may do: one of {', '.join(TOKEN_SCOPES)} (repeat for several; admin does all).",
        ),
    ],
    db: DbOption = None,
) -> None:
    """Make a token and print its secret, once: the store keeps only its hash.

    The secret is the only line on stdout, so that a script can keep it; give it to the client as
    'Authorization: Bearer SECRET' (or CASEBANK_TOKEN).

    \b
    Example:
        cases token create --name support --scope flag --scope read
    """
    secret = new_secret()
    with open_store(db, create=True) as store:
        store.add_token(name, token_hash(secret), scope)
        [kept] = [t for t in store.list_tokens() if t["name"] == name.strip()]
    sys.stdout.write(secret + "\n")
    sys.stderr.write(
        f"token '{kept['name']}' made (scopes: {', '.join(kept['scopes'])}) - the secret above is shown only "
        "this once; keep it in your secret store\n"
    )


@token_app.command("list")
def list_tokens(db: DbOption = None, as_json: JsonFlag = False) -> None:
    """List the tokens by name: scopes and when each was made (never the secret or its hash).

    \b
    Example:
        cases token list
    """
    with open_store(db) as store:
        tokens = store.list_tokens()
    if as_json:
        print_json(tokens)
        return
    if not tokens:
        typer.echo("no tokens yet - make one with 'cases token create --name NAME --scope SCOPE'")
        return
    width = max(len(t["name"]) for t in tokens)
    typer.echo(f"{'name':<{width}}  {'scopes':<24}  created (UTC)")
    for token in tokens:
        typer.echo(f"{token['name']:<{width}}  {', '.join(token['scopes']):<24}  {token['created_at']}")


@token_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The token's name, as 'cases token list' shows it.")],
    db: DbOption = None,
) -> None:
    """Forget a token: 'cases serve' refuses it from its next request.

    \b
    Example:
        cases token revoke support
    """
    with open_store(db) as store:
        store.revoke_token(name)
    typer.echo(f"revoked token '{name.strip()}'")
