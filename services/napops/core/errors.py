"""The root of napops' exception family."""


class NapopsError(Exception):
    """Base class of every error napops raises on purpose."""


class ConfigError(NapopsError):
    """Configuration is invalid. ``problems`` holds every ``At 'path': message`` line."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems
