"""Options for secrets (the remote's hub token, a guard's client tokens).

A secret is never taken from the command line itself, where `ps` and the shell history would
keep it: `@FILE` reads it from a file (`@-` from standard input), `-` asks for it without
echoing it.
"""

import typing as t
from gettext import gettext as _

import click

PROMPT = "-"


def read_secret(param_name: str, value: str) -> str:
    if value == PROMPT:
        secret = click.prompt(
            _("{name} (input hidden)").format(name=param_name), hide_input=True, err=True
        )
    elif value.startswith("@"):
        try:
            with click.open_file(value[1:], "r") as fp:
                secret = fp.read()
        except OSError as exc:
            raise click.BadParameter(
                _("cannot read {file}: {error}").format(file=value[1:], error=exc.strerror)
            )
    else:
        raise click.BadParameter(
            _(
                "give '@FILE' (or '@-' for standard input) or '-' to be asked; a token on the "
                "command line would stay in the shell history and the process list."
            )
        )
    secret = secret.strip()
    if not secret:
        raise click.BadParameter(_("the token is empty."))
    return secret


def secret_callback(ctx: click.Context, param: click.Parameter, value: t.Any) -> t.Any:
    if value is None or value == ():
        return value
    name = param.opts[-1]
    if isinstance(value, tuple):
        return [read_secret(name, item) for item in value]
    return read_secret(name, value)
