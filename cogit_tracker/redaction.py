"""Keeping secrets in the process: what is recorded or printed goes through here first.

Everything that leaves the process (params, tags, text artifacts, `environment.json`, the
spool and its quarantine, warnings, exception messages, every error line, stdout) passes
`redact` (or `redact_env`/`redact_argv`, which call it), so there is one idea of what a secret
looks like:

- a name that says it holds one: the whole value is masked, the name kept. For a name the user
  chooses (a param, a tag, a `--option`, the `name=` or `"name":` of a pair in a text) that is
  a secret word as a word part (`api_key`, `auth_header`, `HF_TOKEN`, `openai-api-key`,
  `_authToken`, `DB_PASSWORD`, `client_secret`, `credentials`) but not a word that only looks
  alike (`max_new_tokens`, `pad_token`, `num_key_value_heads`, `sigma`, `author`,
  `password_length`); for an environment variable, any name holding a marker (`PGPASS`,
  `SENTRY_DSN`), as nothing is lost by masking one more variable;
- a value shaped like a secret, wherever it appears in a text: `Bearer`/`Basic` credentials,
  `password=V` / `passwd: V` / `"token": "V"` pairs, tokens with a known prefix (`ghp_`,
  `github_pat_`, `sk-`, `hf_`, `xoxb-`, `AKIA`, `glpat-`, `npm_`, `AIza`, a JWT), the secret
  path of a webhook URL (Slack, Discord, Teams, any `/webhooks/` or `/hooks/`), the user info
  of a URI (`postgresql://user:pw@host/db`, `redis://:pw@host`, a DSN's key in
  `https://KEY@host/1`) and URI query parameters named like a secret (`?password=`, `&sig=`);
- on a command line, the value of a secret option in every form: `--password V`,
  `--password=V`, `HF_TOKEN=V`, an abbreviation argparse accepts (`--pass V`, `--tok V`), and
  a short option (`-p V`, `-pV`) whose long name is a secret, when the script's
  `ArgumentParser` can be seen.

A masked value keeps its shape (`postgresql://user:***@host/db`, `ghp_***`, `Bearer ***`,
`https://hooks.slack.com/services/***`), so a reader still sees what was meant. Hex ids (run
ids, commit SHAs), numbers, paths and model names are not secrets and are kept.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

REDACTED = "***"
#: an environment variable holding one of these (case-insensitive) holds a secret
SECRET_MARKERS = ("TOKEN", "KEY", "SECRET", "PASS", "PWD", "CREDENTIAL", "DSN", "AUTH",
                  "COOKIE", "PRIVATE", "SIG")
#: names that hold a marker and no secret: the shell's working directories
NOT_SECRET = frozenset({"PWD", "OLDPWD"})

# -- names the user chooses: word parts ---------------------------------------------------------
#: a word part that alone says "secret"
_SECRET_WORDS = frozenset({
    "password", "passwd", "passwords", "passphrase", "pass", "pwd", "pw", "secret", "secrets",
    "credential", "credentials", "creds", "cred", "auth", "authorization", "oauth", "apikey",
    "apikeys", "cookie", "cookies", "dsn", "bearer", "jwt", "sig", "passcode", "privkey",
    "authtoken", "sessionid", "csrf", "xsrf"})
#: a word after a secret word that says the name holds something about it, not it
_QUALIFIERS = frozenset({
    "id", "ids", "type", "types", "count", "counts", "len", "length", "size", "limit", "limits",
    "num", "rate", "at", "k", "n", "dim", "dims", "file", "files", "path", "dir", "enabled",
    "enable", "required", "mode", "method", "methods", "url", "uri", "endpoint", "host",
    "provider", "backend", "scheme", "kind", "style", "strategy", "version", "env", "var",
    "name", "names", "policy", "min", "max", "set", "list", "index", "idx", "level"})
#: a word before `token` that makes it a tokenizer's token, not a credential
_TOKEN_KINDS = frozenset({
    "pad", "bos", "eos", "unk", "sep", "cls", "mask", "special", "start", "end", "eot", "image",
    "video", "audio", "vision", "max", "min", "num", "n", "new", "added", "extra", "decoder",
    "sentinel", "unknown", "padding", "begin", "think", "tool", "boi", "eoi", "bot", "first",
    "last", "next", "prev", "per", "input", "output", "prompt", "context", "total", "sample"})
#: a word before `key` that makes it a credential (`api_key`), not a dict's or attention's key
_KEY_KINDS = frozenset({
    "api", "access", "secret", "private", "signing", "sign", "encryption", "encrypt", "ssh",
    "master", "client", "app", "application", "license", "licence", "account", "service",
    "subscription", "auth", "session", "storage", "consumer", "openai", "anthropic", "stripe",
    "aws", "gcp", "azure", "wandb", "hf", "cohere", "mistral", "groq", "pinecone", "deploy",
    "deployment", "admin", "shared", "hmac", "jwt", "webhook", "gpg", "pgp", "rsa", "ed25519",
    "secure", "security", "google", "gemini", "comet", "neptune", "user", "root", "x"})
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def _words(name: str) -> list[str]:
    return [w.lower() for w in _WORDS.findall(name)]


def _secret_word(word: str, before: str | None) -> bool:
    if word in _SECRET_WORDS or word.endswith(("password", "passwd", "secret", "passphrase")):
        return True
    if word == "token" or word == "tokens" and before in ("auth", "access", "api"):
        return before not in _TOKEN_KINDS
    if word.endswith("token"):
        return word[:-5] not in _TOKEN_KINDS
    if word in ("key", "keys"):
        return before in _KEY_KINDS
    return word.endswith("key") and word[:-3] in _KEY_KINDS


def secret_name(name: str) -> bool:
    """Whether a value under a name the user chose (a param, a tag, an option, the name of a
    pair in a text) is a secret: a secret word as a word part, not followed by a word that
    makes it about the secret (`token_id`, `password_length`)."""
    words = _words(name)
    for i, word in enumerate(words):
        if _secret_word(word, words[i - 1] if i else None):
            after = words[i + 1:]
            if not after or after[0] not in _QUALIFIERS:
                return True
    return False


def is_secret(name: str) -> bool:
    """Whether the value of an environment variable or a query parameter under this name must
    not be recorded: a marker anywhere in it (broad: a variable more masked costs nothing)."""
    upper = name.upper().strip("-")
    if upper in NOT_SECRET:
        return False
    return any(marker in upper for marker in SECRET_MARKERS) or secret_name(name)


# -- values shaped like secrets -----------------------------------------------------------------
# scheme://user:password@ or scheme://user@ ; a password may hold any character but
# whitespace and '@' (a '/' included: users do not percent-encode)
_USER_INFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)"
                        r"(?P<user>[^\s:/?#@'\"]*)(?::(?P<password>[^\s@'\"]*))?@")
_QUERY_ITEM = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&;#\s'\"]+)=(?P<value>[^&;#\s'\"]*)")
#: `Authorization: Bearer V`, `Basic V`, `Token V` as a header value has it (a credential
#: holds a digit, so "bearer of news" and "Token embeddings" stay)
_SCHEME_CREDENTIAL = re.compile(r"(?P<lead>\b(?:[Bb]earer|BEARER|Basic|BASIC|Digest|Token|Bot)\s+)"
                                r"(?P<value>(?=[A-Za-z\-._~+/]*\d)[A-Za-z0-9\-._~+/]{8,}=*)")
#: tokens that say what they are by their prefix (kept, the rest masked)
_PREFIXED = re.compile(
    r"(?<![A-Za-z0-9_\-])(?P<prefix>gh[pousr]_|github_pat_|glpat-|sk-(?:proj-|ant-|live_|test_)?|"
    r"sk_(?:live|test)_|rk_(?:live|test)_|hf_|xox[abposre]-|xapp-|npm_|pypi-|AIza|AKIA|ASIA|"
    r"dop_v1_|shpat_|SG\.)(?P<value>[A-Za-z0-9_\-.]+)")
_PREFIX_MIN = {"AKIA": 16, "ASIA": 16, "AIza": 30, "hf_": 20, "npm_": 30, "pypi-": 40,
               "SG.": 40}
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*")
#: the secret path of a webhook URL: Slack's /services/..., Discord's /api/webhooks/...,
#: Teams' /webhookb2/..., any /webhook(s)/ or /hooks/
_WEBHOOK = re.compile(r"(?P<lead>\bhttps?://[^\s/'\"]+(?:/[^\s/'\"?#]+)*?"
                      r"/(?:services|webhooks?|hooks|webhookb2|incoming-webhook|triggers)/)"
                      r"(?P<value>[^\s'\"?#]+)", re.IGNORECASE)
#: `name=V`, `name: V`, `"name": "V"`, `'name'='V'`: masked where the name is a secret
_PAIR_NAME = re.compile(r"(?P<q>[\"']?)(?P<name>-{0,2}[A-Za-z_][A-Za-z0-9_.\-]*)(?P=q)"
                        r"(?P<sep>\s*(?:=|:)\s*)")
_PAIR_VALUE = re.compile(r"(?P<qv>[\"'])(?P<quoted>(?:\\.|(?!(?P=qv))[^\\\n])*)(?P=qv)|"
                         r"(?P<plain>(?:(?:Bearer|Basic|Token|Digest)\s+)?[^\s&;,'\"\\}\])]+)")
_QUICK = re.compile(r"[@=:]|gh[pousr]_|github_pat_|glpat-|sk[-_]|rk_|hf_|xox|xapp-|npm_|"
                    r"pypi-|AIza|AKIA|ASIA|dop_v1_|shpat_|SG\.|eyJ|bearer|basic|digest|token|"
                    r"bot ", re.IGNORECASE)


def _mask_user_info(match: re.Match) -> str:
    user, password = match["user"], match["password"]
    if password is not None:
        return f"{match['scheme']}{user}:{REDACTED}@"
    return f"{match['scheme']}{REDACTED}@" if user else match[0]


def _mask_query(match: re.Match) -> str:
    if not is_secret(match["name"]) or not match["value"]:
        return match[0]
    return f"{match['lead']}{match['name']}={REDACTED}"


def _mask_prefixed(match: re.Match) -> str:
    prefix, value = match["prefix"], match["value"]
    if len(value) < _PREFIX_MIN.get(prefix, 16) or value == REDACTED:
        return match[0]
    return prefix + REDACTED


def _mask_pairs(text: str) -> str:
    out, at = [], 0
    for head in _PAIR_NAME.finditer(text):
        if head.start() < at or not secret_name(head["name"]):
            continue
        value = _PAIR_VALUE.match(text, head.end())
        if value is None:
            continue
        if value["qv"]:
            masked = f"{value['qv']}{REDACTED}{value['qv']}" if value["quoted"] else value[0]
        elif head["q"] and re.fullmatch(r"-?[\d.eE+]+|true|false|null", value["plain"]):
            masked = value[0]   # a number in JSON: `"max_token": 5` stays valid JSON
        elif value["plain"] == REDACTED or value["plain"].startswith(("//", REDACTED)):
            masked = value[0]   # `name: //host`, already masked
        elif ":" in head["sep"] and head["sep"] != head["sep"].strip() and \
                re.fullmatch(r"[a-z]{1,12}", value["plain"]) and \
                re.match(r" [A-Za-z(]", text[value.end():value.end() + 2]):
            masked = value[0]   # prose: `--auth: set the password`, `credentials: see below`
        else:
            masked = REDACTED
        out.append(text[at:value.start()] + masked)
        at = value.end()
    return "".join(out) + text[at:] if out else text


def redact(text: Any, name: str | None = None) -> str:
    """`text` safe to print, tag, log or spool: `***` where `name` (a param's, a tag's, an
    option's) says it holds a secret, else with every secret-shaped part masked in place."""
    text = text if isinstance(text, str) else str(text)
    if name is not None and secret_name(name):
        return REDACTED if text else text
    if not _QUICK.search(text):
        return text
    text = _USER_INFO.sub(_mask_user_info, text)
    text = _QUERY_ITEM.sub(_mask_query, text)
    text = _WEBHOOK.sub(lambda m: m["lead"] + REDACTED, text)
    text = _JWT.sub(REDACTED, text)
    text = _PREFIXED.sub(_mask_prefixed, text)
    text = _SCHEME_CREDENTIAL.sub(lambda m: m["lead"] + REDACTED, text)
    return _mask_pairs(text)


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """A copy safe to log: secret names get `***`, secrets inside other values are masked."""
    return {name: REDACTED if is_secret(name) else redact(value) for name, value in env.items()}


# -- command lines ------------------------------------------------------------------------------
#: what an option's name may abbreviate (argparse takes any unique prefix of a long option)
_SECRET_OPTIONS = ("password", "passwd", "passphrase", "token", "secret", "credentials",
                   "api-key", "apikey", "access-key", "secret-key", "private-key", "auth-token",
                   "access-token", "hf-token", "hub-token", "client-secret", "db-password")


def _abbreviates_secret(option: str) -> bool:
    name = option.lstrip("-").lower().replace("_", "-")
    least = 3 if "token".startswith(name) else 4
    return len(name) >= least and any(s.startswith(name) for s in _SECRET_OPTIONS)


class _Options:
    """What the script's own parsers say about its options: which take a secret (by their
    destination or long name, so `-p` of `--password` is one) and which take no value."""

    def __init__(self, parsers: Iterable[Any]) -> None:
        self.secret: set[str] = set()
        self.flags: set[str] = set()
        self.known: set[str] = set()
        self.abbrev = False
        seen: set[int] = set()
        todo = list(parsers)
        while todo:
            parser = todo.pop()
            if id(parser) in seen:
                continue
            seen.add(id(parser))
            self.abbrev = self.abbrev or getattr(parser, "allow_abbrev", False)
            for action in getattr(parser, "_actions", ()):
                strings = list(getattr(action, "option_strings", ()))
                choices = getattr(action, "choices", None)
                if isinstance(choices, Mapping):           # subcommands
                    todo.extend(p for p in choices.values() if hasattr(p, "_actions"))
                if not strings:
                    continue
                self.known.update(strings)
                if getattr(action, "nargs", None) == 0:
                    self.flags.update(strings)
                elif secret_name(str(getattr(action, "dest", ""))) or any(
                        secret_name(s.lstrip("-")) for s in strings if s.startswith("--")):
                    self.secret.update(strings)

    def takes_secret(self, option: str) -> bool | None:
        """True or False where the parsers know `option` (or the long option it abbreviates),
        None where they do not."""
        if option in self.known:
            return option in self.secret
        if option.startswith("--") and self.abbrev:
            matches = {s for s in self.known if s.startswith(option)}
            if matches:
                return bool(matches & self.secret)
        return None

    def attached(self, arg: str) -> bool:
        """`-pVALUE`, a short secret option with its value attached."""
        return (len(arg) > 2 and arg[0] == "-" and arg[1] != "-"
                and arg[:2] in self.secret and arg[:2] not in self.flags)


def redact_argv(argv: Sequence[str], parsers: Iterable[Any] = ()) -> list[str]:
    """A command line safe to log: the value of a secret option is masked in every form
    (`--api-key=V`, `--api-key V`, `--pass V` as argparse's abbreviation, `HF_TOKEN=V`, and
    `-p V` / `-pV` where one of `parsers`, the script's own `ArgumentParser`s, says `-p` is
    `--password`), and every argument is `redact`ed."""
    options = _Options(parsers)
    out: list[str] = []
    mask_next = False
    for arg in argv:
        if mask_next and not (arg.startswith("-") and len(arg) > 1 and not arg[1].isdigit()):
            out.append(REDACTED)
            mask_next = False
            continue
        mask_next = False
        name, eq, _ = arg.partition("=")
        if arg.startswith("-") and len(arg) > 1 and not arg[1].isdigit():
            said = options.takes_secret(name)
            secret = said if said is not None else (
                name.startswith("--") and (secret_name(name) or _abbreviates_secret(name)))
            if secret and eq:
                out.append(f"{name}={REDACTED}")
            elif secret and name not in options.flags:
                out.append(arg)
                mask_next = True
            elif options.attached(arg):
                out.append(arg[:2] + REDACTED)
            else:
                out.append(redact(arg))
        elif eq and name.isidentifier() and is_secret(name):
            out.append(f"{name}={REDACTED}")
        else:
            out.append(redact(arg))
    return out
