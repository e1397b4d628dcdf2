"""``deploy/callcenter.service``: the systemd unit starts what the CLI offers, as a confined user."""

from __future__ import annotations

import configparser
from pathlib import Path

from callcenter.cli import build_parser
from callcenter.config import ENV_PREFIX, load_settings

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "callcenter.service"


def service() -> configparser.SectionProxy:
    # systemd allows repeated keys; strict=False keeps the last, which is enough for these checks.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser["Service"]


def test_unit_runs_callcenter_serve_with_the_settings_file() -> None:
    """ExecStart is the `serve` command the CLI knows, and CALLCENTER_CONFIG names the settings file."""
    unit = service()
    command = unit["ExecStart"].split()
    assert command[0].endswith("/callcenter") and command[1:] == ["serve"]
    assert build_parser().parse_args(command[1:]).command == "serve"
    environment = UNIT.read_text(encoding="utf-8")
    assert f"Environment={ENV_PREFIX}CONFIG=/etc/callcenter/callcenter.toml" in environment
    assert unit["Restart"] == "on-failure"


def test_unit_runs_as_a_dedicated_unprivileged_user() -> None:
    """The service has its own user, no capabilities, no new privileges and a read-only system."""
    unit = service()
    assert unit["User"] == "callcenter" and unit["Group"] == "callcenter"
    assert unit["NoNewPrivileges"] == "yes"
    assert unit["ProtectSystem"] == "strict"
    assert unit["CapabilityBoundingSet"] == ""
    assert set(unit["RestrictAddressFamilies"].split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    # Longer than the FastAGI shutdown grace, so calls in progress can finish.
    assert int(unit["TimeoutStopSec"]) > 10


def test_the_guides_settings_example_is_a_valid_settings_file(tmp_path: Path) -> None:
    """The callcenter.toml of docs/deploy.md loads without a problem and says what it claims."""
    guide = (UNIT.parents[1] / "docs" / "deploy.md").read_text(encoding="utf-8")
    example = guide.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "callcenter.toml"
    path.write_text(example, encoding="utf-8")
    settings = load_settings(config_file=path, environ={})
    assert settings.agi.allowed_peers == ("10.0.0.2/32",)
    assert settings.ami.host == "10.0.0.2" and settings.ami.auth == "md5"
    assert str(settings.paths.spool_dir) == "/var/spool/callcenter/survival"
