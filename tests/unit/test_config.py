"""Settings: layer precedence, typed conversion, and errors that name their source and form."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.config import Settings, load_settings, setting_names
from callcenter.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "callcenter.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_when_nothing_is_given(tmp_path: Path) -> None:
    """With no file, environment or flags the defaults apply."""
    settings = load_settings(config_file=None, environ={"CALLCENTER_CONFIG": str(write(tmp_path, ""))})
    assert settings == Settings()
    assert settings.agi.port == 4573 and settings.database.url is None


def test_file_then_environment_then_command_line_win_in_that_order(tmp_path: Path) -> None:
    """Each later layer overrides the earlier one, setting by setting."""
    path = write(
        tmp_path, "[http]\nport = 9000\nhost = '0.0.0.0'\n[ami]\nport = 5039\nsecret = 'filesecret'\n"
    )
    settings = load_settings(
        config_file=path,
        environ={"CALLCENTER_AMI_PORT": "6000", "CALLCENTER_HTTP_HOST": "10.0.0.1"},
        overrides={"ami.port": "7000"},
    )
    assert settings.http.port == 9000  # file only
    assert settings.http.host == "10.0.0.1"  # env beats file
    assert settings.ami.port == 7000  # CLI beats env
    assert settings.ami.secret == "filesecret"


def test_every_bad_value_is_reported_at_once_with_source_and_form(tmp_path: Path) -> None:
    """Bad values from all layers come back together, each naming where it came from."""
    path = write(tmp_path, "[http]\nport = 'eighty'\n[nonsense]\nx = 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(
            config_file=path,
            environ={"CALLCENTER_AGI_PORT": "99999", "CALLCENTER_LOG_LEVEL": "loud", "CALLCENTER_TYPO": "1"},
            overrides={"ami.auth": "kerberos", "ami.nope": "1"},
        )
    problems = "\n".join(info.value.problems)
    assert f"{path} [http] port = 'eighty': expected a whole number" in problems
    assert "unknown section [nonsense]" in problems
    assert "environment CALLCENTER_AGI_PORT = '99999': expected a TCP port between 1 and 65535" in problems
    assert "environment CALLCENTER_LOG_LEVEL = 'loud': expected one of 'debug'" in problems
    assert "environment CALLCENTER_TYPO: not a setting" in problems
    assert "command line --set ami.auth = 'kerberos': expected one of 'plain', 'md5'" in problems
    assert "command line --set ami.nope: unknown setting ami.nope" in problems
    assert len(info.value.problems) == 7


def test_lists_booleans_and_optional_values_parse_from_text() -> None:
    """Text from the environment becomes tuples, booleans and None as the field's type says."""
    settings = load_settings(
        environ={
            "CALLCENTER_CONFIG": "/dev/null",
            "CALLCENTER_AGI_ALLOWED_PEERS": "10.0.0.5, 10.1.0.0/24",
            "CALLCENTER_AMI_ENABLED": "no",
            "CALLCENTER_DATABASE_URL": "",
        }
    )
    assert settings.agi.allowed_peers == ("10.0.0.5", "10.1.0.0/24")
    assert settings.ami.enabled is False
    assert settings.database.url is None


def test_bad_network_in_allowed_peers_is_refused() -> None:
    """A PBX address list with a non-address is an error naming the form."""
    with pytest.raises(ConfigError, match="comma-separated list of IP addresses"):
        load_settings(environ={"CALLCENTER_CONFIG": "/dev/null", "CALLCENTER_AGI_ALLOWED_PEERS": "pbx.local"})


def test_cross_field_rules(tmp_path: Path) -> None:
    """A pool whose minimum exceeds its maximum, or HTTP and AGI on one port, are refused."""
    path = write(tmp_path, "[database]\npool_min = 30\npool_max = 5\n[http]\nport = 4573\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=path, environ={})
    assert len(info.value.problems) == 2


def test_named_config_file_must_exist(tmp_path: Path) -> None:
    """Asking for a file that is not there is an error, not a silent fall-back to defaults."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config_file=tmp_path / "missing.toml", environ={})


def test_redacted_hides_secrets_and_dsn_password() -> None:
    """The printable form of the settings never shows the AMI secret or the database password."""
    settings = load_settings(
        environ={
            "CALLCENTER_CONFIG": "/dev/null",
            "CALLCENTER_AMI_SECRET": "topsecret",
            "CALLCENTER_DATABASE_URL": "postgresql://cc:pw123@db.local/cc",
        }
    )
    text = str(settings.redacted())
    assert "topsecret" not in text and "pw123" not in text
    assert "postgresql://cc:***@db.local/cc" in text


def test_every_setting_has_help_text() -> None:
    """Each dotted setting name documents itself."""
    names = setting_names()
    assert "ami.secret" in names and all(names.values())


def test_supervisor_phones_are_login_endpoint_pairs() -> None:
    """Supervisor phones parse as LOGIN=TECH/ENDPOINT pairs; anything else names the expected form."""
    settings = load_settings(
        environ={
            "CALLCENTER_CONFIG": "/dev/null",
            "CALLCENTER_SUPERVISE_PHONES": "anna=PJSIP/sup01, ivan=PJSIP/sup02",
        }
    )
    assert settings.supervise.phones == ("anna=PJSIP/sup01", "ivan=PJSIP/sup02")
    with pytest.raises(ConfigError, match="LOGIN=TECH/ENDPOINT"):
        load_settings(environ={"CALLCENTER_CONFIG": "/dev/null", "CALLCENTER_SUPERVISE_PHONES": "anna"})
