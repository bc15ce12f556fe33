"""Settings from ``UIAB_*`` environment variables and an optional ``uiab.toml`` in the working directory."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from agent.kernel import InputError, UiabError, error_from_validation, first_line, read_text

__all__ = ["MAX_SESSIONS", "MAX_STAGES", "Settings", "load_settings"]

# The most sessions one command may ask for: at ~1.5 sessions/s on 2 cores, 10 000 is about two hours per
# variant. Anything bigger is a typo (an extra 0) more often than a plan, and it would run silently for days.
MAX_SESSIONS = 10_000
MAX_STAGES = 10  # a traffic ramp of more than ten steps is a typo too


class Settings(BaseSettings):
    """Where the browser comes from, how many run at once, where results go."""

    model_config = SettingsConfigDict(env_prefix="UIAB_", toml_file="uiab.toml", extra="forbid")

    browser_executable: Path | None = Field(default=None, description="Chromium to launch; else found on PATH")
    browser_endpoint: str | None = Field(default=None, description="ws:// of a Playwright server to connect to")
    headless: bool = True
    # 1: on 2 cores the browser and Playwright's driver use the other core; benchmarks/throughput.py measured
    # uiab simulate at 1.48 sessions/s with one visitor in flight against 1.25 with two.
    concurrency: int = Field(default=1, ge=1, le=64, description="visitors in flight at once")
    seed: int = 0
    db: Path = Path("uiab.db")
    report_dir: Path = Path("uiab-reports")
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit arguments beat the environment, which beats uiab.toml.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning a bad value into a one-line :class:`InputError`."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    if Path("uiab.toml").is_file():  # pydantic-settings' own reader would raise UnicodeDecodeError
        read_text(Path("uiab.toml"), what="settings file", fix="repair or remove uiab.toml")
    try:
        return Settings(**clean)  # type: ignore[arg-type]
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else "settings"
        raise error_from_validation(exc, source="uiab.toml or UIAB_* environment",
                                    default_fix=f"set UIAB_{field.upper()} to a valid value") from None
    except UiabError:
        raise
    except Exception as exc:  # a malformed uiab.toml raises tomllib's error
        raise InputError(f"malformed TOML ({first_line(exc)})", source="uiab.toml",
                         fix="repair the TOML syntax") from None
