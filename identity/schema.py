"""The identity tables: who is behind each channel id, and how we know.

In the rest of Sportello ``customer_id`` is what one channel knows about the person — the
channel's own customer id when it sends one (``metadata.customer_id``), else the
conversation id (a web visitor's browser). Here those are *channel ids*, and a
*customer profile* groups the channel ids of one person:

=========================  ===================================================================
table                      holds
=========================  ===================================================================
identity_profiles          ``id`` (``cust-…``), ``created_at``, ``merged_into`` (the profile
                           that absorbed this one; ids stay resolvable after a merge)
identity_channels          ``channel_id`` → ``profile_id``; ``channel`` (``socketio``, ``rest``,
                           ``callback``…), ``first_seen``, ``last_seen``
identity_conversations     ``conversation_id`` → ``channel_id``, ``channel``, first/last seen
identity_contacts          e-mail addresses and phone numbers seen on a channel id: ``kind``,
                           normalised ``value``, ``verified`` (signed by the company's server,
                           see :mod:`identity.contacts`), first/last seen
identity_merges            every link: ``kept`` and ``absorbed`` profile, ``moved`` (JSON list
                           of the channel ids moved), ``reason`` (``verified_email``,
                           ``verified_phone``, ``operator``), ``actor``, ``at``,
                           ``undone_at``/``undone_by``
identity_blocks            pairs of channel ids an operator separated (an undone merge): never
                           linked automatically again
=========================  ===================================================================

Contact details are personal data: erasure (:mod:`privacy.customers`) deletes a profile's
rows, retention deletes channel ids not seen for the retention period.

The tables are created and changed by numbered migrations (:mod:`identity.migrations`),
applied once at start-up; nothing here checks the schema.
"""

from __future__ import annotations

PROFILES = "identity_profiles"
CHANNELS = "identity_channels"
CONVERSATIONS = "identity_conversations"
CONTACTS = "identity_contacts"
MERGES = "identity_merges"
BLOCKS = "identity_blocks"
TABLES = (PROFILES, CHANNELS, CONVERSATIONS, CONTACTS, MERGES, BLOCKS)

REASON_OPERATOR = "operator"
