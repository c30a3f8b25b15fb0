"""Reading and writing other tools' dataset layouts (OpenGait, GREW releases)."""
