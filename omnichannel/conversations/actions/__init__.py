"""The one front door for every change to a conversation, one module per concern.

Views, consumers, the worker, the demo loader and tests call these functions, importing each
from the module that owns its concern. An action locks and re-reads the rows it changes, runs
its checks on that fresh state (a refusal raises a ConversationError whose message names the
problem, and changes nothing), and claims the conversation with a conditional UPDATE on its
version, so that of two concurrent actions exactly one wins, on SQLite and PostgreSQL alike.

- Lock order: the conversation first, then agent profiles by user id; so concurrent actions
  on PostgreSQL cannot deadlock (on SQLite the IMMEDIATE transaction holds the single write lock).
- Events: every change is recorded by `events.events_record`, the only event writer (ST-23).
- After commit: every push to a socket is sent by `pushes` in `transaction.on_commit`, never
  before the data is durable.

Layers, lowest first (a module imports only those above it): checks, events, transcript,
connections, presence, transitions; then assignment, ending, transfers, supervision,
messages, cases, knowledge, live_chat.
"""
