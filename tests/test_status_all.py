"""`baseten auth status --all` and `baseten auth status --check`.

SPEC section 11: `--all` lists every stored profile (remote, auth type,
storage `keyring` or `file`, the current one marked) as text, a JSON array,
one object per jsonl line (with `--jq` run once per object) or nothing.
`--check` asks `GET /v1/users/me` whether the credential works, adds
`email`, `workspace_name` and `valid` to the JSON, and exits 3 when the
credential is rejected.
"""

from __future__ import annotations

import json

import pytest

from conftest import (
    DEFAULT_REMOTE,
    GOOD_KEY,
    ME,
    NOT_LOGGED_IN,
    api_key_profile,
    assert_error,
    assert_no_secret,
    assert_usage_error,
    auth_data,
    oauth_profile,
)
from fakeapi import Reply

OTHER_REMOTE = "https://app.example.com"
TOKEN_PATH = "/v1/users/auth/device/token"
EXPIRED = "2020-01-01T00:00:00Z"
SECRETS = ("stored-key", "stored-access-token", "stored-refresh-token")


def three_profiles():
    """A keyring OAuth profile (current), a file API key, a file OAuth one."""
    return auth_data({
        "alice@example.com": {"remote_url": DEFAULT_REMOTE, "auth_type": "oauth"},
        "ci": api_key_profile(key="stored-key"),
        "bob@example.com:example.com": oauth_profile(remote=OTHER_REMOTE),
    }, current="alice@example.com")


SUMMARIES = [
    {"profile": "alice@example.com", "remote_url": DEFAULT_REMOTE,
     "auth_type": "oauth", "current": True, "storage": "keyring"},
    {"profile": "bob@example.com:example.com", "remote_url": OTHER_REMOTE,
     "auth_type": "oauth", "current": False, "storage": "file"},
    {"profile": "ci", "remote_url": DEFAULT_REMOTE, "auth_type": "api_key",
     "current": False, "storage": "file"},
]

ALL_TEXT = """\
alice@example.com (current)
  Remote: https://app.baseten.co
  Auth type: oauth
  Storage: keyring
bob@example.com:example.com
  Remote: https://app.example.com
  Auth type: oauth
  Storage: file
ci
  Remote: https://app.baseten.co
  Auth type: api_key
  Storage: file
"""


# --all ---------------------------------------------------------------------------


def test_status_all_text_lists_every_profile_sorted_with_the_current_marked(
        run_cli, auth_file):
    auth_file.write(three_profiles())
    assert run_cli("auth", "status", "--all") == (0, ALL_TEXT, "")


def test_status_all_json_is_an_indented_array(run_cli, auth_file):
    auth_file.write(three_profiles())
    assert run_cli("auth", "status", "--all", "-o", "json") == (
        0, json.dumps(SUMMARIES, indent=2) + "\n", "")


def test_status_all_jsonl_is_one_compact_object_per_line(run_cli, auth_file):
    auth_file.write(three_profiles())
    expected = "".join(json.dumps(s, separators=(",", ":")) + "\n" for s in SUMMARIES)
    assert run_cli("auth", "status", "--all", "-o", "jsonl") == (0, expected, "")


def test_status_all_output_none_prints_nothing(run_cli, auth_file):
    auth_file.write(three_profiles())
    assert run_cli("auth", "status", "--all", "-o", "none") == (0, "", "")


@pytest.mark.parametrize(
    "expression, expected",
    [
        pytest.param(".profile",
                     '"alice@example.com"\n"bob@example.com:example.com"\n"ci"\n',
                     id="given jsonl, --jq .profile runs once per profile"),
        pytest.param("select(.current)",
                     json.dumps(SUMMARIES[0], separators=(",", ":")) + "\n",
                     id="given jsonl, --jq select(.current) prints the current one"),
    ],
)
def test_status_all_jsonl_runs_jq_once_per_object(run_cli, auth_file, expression,
                                                  expected):
    auth_file.write(three_profiles())
    result = run_cli("auth", "status", "--all", "-o", "jsonl", "--jq", expression)
    assert result == (0, expected, "")


def test_status_all_json_runs_jq_on_the_whole_array(run_cli, auth_file):
    auth_file.write(three_profiles())
    result = run_cli("auth", "status", "--all", "-o", "json", "--jq",
                     ".[] | select(.current) | .profile")
    assert result == (0, '"alice@example.com"\n', "")


def test_status_all_with_jq_and_text_output_is_a_usage_error(run_cli, auth_file):
    auth_file.write(three_profiles())
    assert_usage_error(run_cli("auth", "status", "--all", "-o", "text", "--jq",
                               ".profile"), "--jq")


def test_status_all_with_no_profiles_says_how_to_log_in_and_exits_0(run_cli,
                                                                      config_dir):
    assert run_cli("auth", "status", "--all") == (
        0, "", "no stored profiles; run: baseten auth login\n")
    assert not config_dir.exists()


@pytest.mark.parametrize(
    "output, expected",
    [
        pytest.param("json", "[]\n", id="given json and no profiles, prints []"),
        pytest.param("jsonl", "", id="given jsonl and no profiles, prints nothing"),
    ],
)
def test_status_all_with_no_profiles_in_json(run_cli, auth_file, output, expected):
    auth_file.write(auth_data({}))
    result = run_cli("auth", "status", "--all", "-o", output)
    assert (result.rc, result.out) == (0, expected)


def test_status_all_marks_nothing_current_when_nothing_is(run_cli, auth_file):
    auth_file.write(auth_data({"ci": api_key_profile()}, current=""))
    result = run_cli("auth", "status", "--all", "-o", "json")
    assert result.rc == 0, result
    assert [p["current"] for p in json.loads(result.out)] == [False]


def test_status_all_lists_profiles_even_with_baseten_api_key_set(run_cli, auth_file):
    auth_file.write(three_profiles())
    result = run_cli("auth", "status", "--all", env={"BASETEN_API_KEY": "env-key"})
    assert result == (0, ALL_TEXT, "")


def test_status_all_needs_no_keyring_no_network_and_writes_nothing(
        run_cli, auth_file, fake_api, no_keyring_path):
    auth_file.write(three_profiles())
    before = auth_file.raw()
    inode = auth_file.path.stat().st_ino
    assert run_cli("auth", "status", "--all") == (0, ALL_TEXT, "")
    assert fake_api.requests == []
    assert auth_file.raw() == before
    assert auth_file.path.stat().st_ino == inode
    assert sorted(p.name for p in auth_file.dir.iterdir()) == ["auth.json"]


@pytest.mark.parametrize("output", ["text", "json", "jsonl", "none"])
def test_status_all_never_prints_secrets_even_verbose(run_cli, auth_file, output):
    auth_file.write(three_profiles())
    result = run_cli("auth", "status", "--all", "-v", "-o", output)
    assert result.rc == 0, result
    assert_no_secret(result, *SECRETS)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--profile", "ci"], id="--all with --profile is a usage error"),
        pytest.param(["--check"], id="--all with --check is a usage error"),
    ],
)
def test_status_all_refuses_options_that_pick_one_profile(run_cli, auth_file, args):
    auth_file.write(three_profiles())
    assert_usage_error(run_cli("auth", "status", "--all", *args), "--all")


def test_status_all_with_a_corrupt_auth_file_is_one_error_line(run_cli, auth_file):
    auth_file.write("{not json")
    assert_error(run_cli("auth", "status", "--all"), 1, str(auth_file.path))


# --check ---------------------------------------------------------------------------


def test_status_check_says_who_is_logged_in(run_cli, auth_file, fake_api):
    auth_file.write(auth_data({"ci": api_key_profile(key=GOOD_KEY)}, current="ci"))
    result = run_cli("auth", "status", "--check")
    assert result == (0, "ci\n  Remote: https://app.baseten.co\n  Auth type: api_key\n"
                         "  Logged in as alice@example.com (Acme)\n", "")
    (request,) = fake_api.requests_to("GET", "/v1/users/me")
    assert request.headers["Authorization"] == "Api-Key " + GOOD_KEY
    assert request.headers["User-Agent"].startswith("baseten_auth/")


def test_status_check_json_adds_email_workspace_and_valid(run_cli, auth_file, fake_api):
    auth_file.write(auth_data({"ci": api_key_profile(key=GOOD_KEY)}, current="ci"))
    expected = {"profile": "ci", "remote_url": DEFAULT_REMOTE, "auth_type": "api_key",
                "email": ME["email"], "workspace_name": ME["workspace_name"],
                "valid": True}
    assert run_cli("auth", "status", "--check", "-o", "json") == (
        0, json.dumps(expected, indent=2) + "\n", "")


def test_status_check_with_baseten_api_key(run_cli, fake_api):
    result = run_cli("auth", "status", "--check", "-o", "jsonl",
                     env={"BASETEN_API_KEY": GOOD_KEY})
    assert result.rc == 0, result
    assert json.loads(result.out) == {
        "profile": "", "remote_url": DEFAULT_REMOTE, "auth_type": "api_key",
        "email": "alice@example.com", "workspace_name": "Acme", "valid": True}


def test_status_check_of_a_rejected_credential_exits_3_and_says_how_to_log_in(
        run_cli, auth_file, fake_api):
    auth_file.write(auth_data({"ci": api_key_profile(key="revoked-key")}, current="ci"))
    before = auth_file.raw()
    result = run_cli("auth", "status", "--check")
    assert_error(result, 3, "'ci'", "rejected", "baseten auth login --profile ci")
    assert "revoked-key" not in result.err
    assert auth_file.raw() == before


def test_status_check_of_a_rejected_baseten_api_key_exits_3(run_cli, fake_api):
    result = run_cli("auth", "status", "--check", env={"BASETEN_API_KEY": "bad-key"})
    assert_error(result, 3, "BASETEN_API_KEY", "rejected", "baseten auth login")
    assert "bad-key" not in result.err


def test_status_check_with_output_none_still_exits_3_when_rejected(run_cli, auth_file,
                                                                   fake_api):
    auth_file.write(auth_data({"ci": api_key_profile(key="revoked-key")}, current="ci"))
    assert run_cli("auth", "status", "--check", "-o", "none").rc == 3


@pytest.mark.parametrize(
    "reply, code",
    [
        pytest.param(Reply(403, {"error": "forbidden"}), 3, id="given 403, exits 3"),
        pytest.param(Reply(404, {"error": "not found"}), 4, id="given 404, exits 4"),
        pytest.param(Reply(429, {"error": "slow down"}), 5, id="given 429, exits 5"),
        pytest.param(Reply(500, {"error": "boom"}), 6, id="given 500, exits 6"),
    ],
)
def test_status_check_maps_http_errors_to_exit_codes(run_cli, auth_file, fake_api,
                                                     reply, code):
    auth_file.write(auth_data({"ci": api_key_profile(key=GOOD_KEY)}, current="ci"))
    fake_api.route("GET", "/v1/users/me", reply)
    assert_error(run_cli("auth", "status", "--check"), code)


def test_status_check_with_an_unreachable_server_exits_1(run_cli, auth_file,
                                                          closed_port):
    auth_file.write(auth_data({"ci": api_key_profile(key=GOOD_KEY)}, current="ci"))
    env = {"BASETEN_MANAGEMENT_API_URL_OVERRIDE": "http://127.0.0.1:%d" % closed_port}
    assert_error(run_cli("auth", "status", "--check", env=env), 1, "cannot reach")


def test_status_check_refreshes_an_expired_oauth_token_first(run_cli, auth_file,
                                                             fake_api):
    auth_file.write(auth_data({"o": oauth_profile(expiry=EXPIRED)}, current="o"))
    fake_api.route("POST", TOKEN_PATH, Reply(200, {
        "access_token": "new-access-token", "refresh_token": "new-refresh-token",
        "token_type": "Bearer", "expires_in": 3600}))
    fake_api.route("GET", "/v1/users/me", lambda request: (
        Reply(200, ME)
        if request.headers.get("Authorization") == "Bearer new-access-token"
        else Reply(401, {"error": "invalid token"})))
    result = run_cli("auth", "status", "--check")
    assert result.rc == 0, result
    assert result.out.endswith("  Logged in as alice@example.com (Acme)\n")
    assert result.err == ""
    stored = auth_file.profiles()["o"]["oauth_credential"]
    assert stored["access_token"] == "new-access-token"


def test_status_check_with_a_rejected_refresh_exits_3(run_cli, auth_file, fake_api):
    auth_file.write(auth_data({"o": oauth_profile(expiry=EXPIRED)}, current="o"))
    fake_api.route("POST", TOKEN_PATH, Reply(400, {"error": "invalid_grant"}))
    result = run_cli("auth", "status", "--check")
    assert_error(result, 3, "'o'", "baseten auth login --profile o")
    assert fake_api.requests_to("GET", "/v1/users/me") == []


def test_status_check_when_not_logged_in_makes_no_request(run_cli, fake_api):
    assert run_cli("auth", "status", "--check") == (1, "", NOT_LOGGED_IN)
    assert fake_api.requests == []


def test_status_check_cleans_control_characters_from_the_server(run_cli, auth_file,
                                                                fake_api):
    auth_file.write(auth_data({"ci": api_key_profile(key=GOOD_KEY)}, current="ci"))
    fake_api.route("GET", "/v1/users/me", Reply(200, dict(
        ME, email="eve\x1b[2J@example.com", workspace_name="W\x07")))
    result = run_cli("auth", "status", "--check")
    assert result.rc == 0, result
    assert "\x1b" not in result.out and "\x07" not in result.out


def test_status_check_never_prints_the_secret_even_verbose(run_cli, auth_file,
                                                            fake_api):
    auth_file.write(auth_data({"ci": api_key_profile(key=GOOD_KEY)}, current="ci"))
    for output in ("text", "json", "jsonl"):
        result = run_cli("auth", "status", "--check", "-v", "-o", output)
        assert result.rc == 0, result
        assert_no_secret(result, GOOD_KEY)
