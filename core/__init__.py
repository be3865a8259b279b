"""arxiv-rss-bot: arXiv's daily announcements, filtered and ranked by your keywords, as feeds."""

__version__ = "0.1.0"
