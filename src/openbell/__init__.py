"""openbell: a trading platform that stays fast, correct and secure when load surges."""

__version__ = "0.1.0"
