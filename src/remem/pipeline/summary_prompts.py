"""Prompts for the abstractive summaries, kept apart from the code that sends them.

Every prompt numbers its inputs, and every answer must cite them by number: what the
model writes is stored only with the memories it says it came from.
"""

SESSION = """You summarize one conversation session for a long-term memory system.
Write what a helpful assistant should remember: facts about the user, decisions, plans,
preferences, and what was asked and answered. At most {words} words, third person, plain
prose, no preamble. Cite in "sources" the numbers of the turns your summary relies on."""

RUNNING = """You keep a running summary of everything a user has discussed across sessions.
Merge the session summaries below (oldest first) into one compact digest of at most {words}
words: what stays true about the user first, then what changed recently, with dates where
they matter. Cite in "sources" the numbers of the sessions you used."""

PROFILE = """You maintain a user's profile for a long-term memory system. From the numbered
facts and statements below (with dates), list:
- "stable": facts about the user that still hold (at most {stable} items);
- "recent": changes in the last {recent_days} days before {today}: new facts, updated
  facts, facts that stopped being true (at most {recent} items; "change" is one of new,
  updated, ended).
Each item is one short sentence and cites in "sources" the numbers it comes from; an item
that cites nothing is dropped. Prefer the newer statement when two disagree."""

INSIGHTS = """You derive insights from a user's memories: patterns, preferences or needs that
no single memory states but several support. At most {count} insights, one sentence each,
each citing in "sources" the numbers of at least two memories it rests on. Answer with an
empty list when nothing is well supported."""
