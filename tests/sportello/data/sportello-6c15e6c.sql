BEGIN TRANSACTION;
CREATE TABLE alert_state (id INTEGER PRIMARY KEY CHECK (id = 1), last_event_id INTEGER NOT NULL);
INSERT INTO "alert_state" VALUES(1,3);
CREATE TABLE alerts (
                id INTEGER PRIMARY KEY,
                event_id INTEGER NOT NULL,
                audience TEXT NOT NULL,
                ticket_id INTEGER NOT NULL,
                kind TEXT NOT NULL,
                detail TEXT,
                priority TEXT NOT NULL,
                created_at TEXT NOT NULL,
                sent_at TEXT,
                next_attempt_at TEXT,
                last_error TEXT,
                UNIQUE (event_id, audience)
            );
INSERT INTO "alerts" VALUES(1,1,'operators',1,'created','asked_for_human/high','high','2026-11-02T09:15:00+00:00','2026-11-02T09:15:00+00:00',NULL,NULL);
CREATE TABLE article_history (
                id TEXT NOT NULL, lang TEXT NOT NULL, version INTEGER NOT NULL,
                question TEXT, alt_questions TEXT, answer TEXT, tags TEXT, source TEXT,
                status TEXT, updated_at TEXT, updated_by TEXT,
                PRIMARY KEY (id, lang, version));
INSERT INTO "article_history" VALUES('spedizione','it',1,'Quanto costa la spedizione?','["costi di spedizione", "spese di consegna"]','La spedizione è gratuita sopra i 50 €.','["ordini"]','faq.csv','published','2026-12-05T23:46:14.574311+00:00','anna');
INSERT INTO "article_history" VALUES('spedizione','en',1,'How much is shipping?','[]','Shipping is free over €50.','[]','','published','2026-12-05T23:46:14.574311+00:00','');
INSERT INTO "article_history" VALUES('resi','it',1,'Come faccio un reso?','[]','Entro 30 giorni dal sito.','[]','','draft','2026-12-05T23:46:14.574311+00:00','');
INSERT INTO "article_history" VALUES('resi','it',2,'Come faccio un reso?','[]','Entro 30 giorni, dalla pagina «I miei ordini».','[]','','published','2026-12-05T23:46:14.576667+00:00','marco');
CREATE TABLE "articles" (
   "id" TEXT NOT NULL,
   "lang" TEXT NOT NULL,
   "question" TEXT NOT NULL,
   "alt_questions" TEXT,
   "answer" TEXT NOT NULL,
   "tags" TEXT,
   "source" TEXT,
   "status" TEXT NOT NULL,
   "created_at" TEXT,
   "updated_at" TEXT, updated_by TEXT,
   PRIMARY KEY ("id", "lang")
);
INSERT INTO "articles" VALUES('spedizione','it','Quanto costa la spedizione?','["costi di spedizione", "spese di consegna"]','La spedizione è gratuita sopra i 50 €.','["ordini"]','faq.csv','published','2026-12-05T23:46:14.574311+00:00','2026-12-05T23:46:14.574311+00:00','anna');
INSERT INTO "articles" VALUES('spedizione','en','How much is shipping?','[]','Shipping is free over €50.','[]','','published','2026-12-05T23:46:14.574311+00:00','2026-12-05T23:46:14.574311+00:00','');
INSERT INTO "articles" VALUES('resi','it','Come faccio un reso?','[]','Entro 30 giorni, dalla pagina «I miei ordini».','[]','','published','2026-12-05T23:46:14.574311+00:00','2026-12-05T23:46:14.576667+00:00','marco');
CREATE TABLE identity_blocks (
    channel_a TEXT NOT NULL,
    channel_b TEXT NOT NULL,
    PRIMARY KEY (channel_a, channel_b)
);
INSERT INTO "identity_blocks" VALUES('web-9','tg-9');
CREATE TABLE identity_channels (
    channel_id TEXT PRIMARY KEY,
    profile_id TEXT NOT NULL REFERENCES identity_profiles(id),
    channel TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
INSERT INTO "identity_channels" VALUES('web-1','cust-1','socketio','2026-11-02T09:15:00+00:00','2026-11-02T10:40:00+00:00');
INSERT INTO "identity_channels" VALUES('tg-7','cust-1','telegram','2026-11-02T09:15:00+00:00','2026-11-02T09:15:00+00:00');
CREATE TABLE identity_contacts (
    channel_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    verified INTEGER NOT NULL DEFAULT 0,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (channel_id, kind, value)
);
INSERT INTO "identity_contacts" VALUES('web-1','email','lucia@example.it',1,'2026-11-02T09:15:00+00:00','2026-11-02T10:40:00+00:00');
CREATE TABLE identity_conversations (
    conversation_id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL,
    channel TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
INSERT INTO "identity_conversations" VALUES('conv-1','web-1','socketio','2026-11-02T09:15:00+00:00','2026-11-02T10:40:00+00:00');
CREATE TABLE identity_merges (
    id INTEGER PRIMARY KEY,
    kept TEXT NOT NULL,
    absorbed TEXT NOT NULL,
    moved TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT,
    at TEXT NOT NULL,
    undone_at TEXT,
    undone_by TEXT
);
INSERT INTO "identity_merges" VALUES(1,'cust-1','cust-2','["tg-7"]','operator','anna','2026-11-02T10:40:00+00:00',NULL,NULL);
CREATE TABLE identity_profiles (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    merged_into TEXT
);
INSERT INTO "identity_profiles" VALUES('cust-1','2026-11-02T09:15:00+00:00',NULL);
INSERT INTO "identity_profiles" VALUES('cust-2','2026-11-02T09:15:00+00:00','cust-1');
CREATE TABLE "kb_state" (
   "key" TEXT PRIMARY KEY,
   "version" INTEGER
);
INSERT INTO "kb_state" VALUES('articles',4);
CREATE TABLE log_state (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO "log_state" VALUES('last_event_id',11);
CREATE TABLE log_turns (
    id INTEGER PRIMARY KEY,
    event_id INTEGER UNIQUE,
    conversation_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    channel TEXT,
    lang TEXT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    intent TEXT,
    intent_confidence REAL,
    reply TEXT NOT NULL DEFAULT '',
    decision TEXT,
    article_id TEXT,
    confidence REAL,
    ticket_id INTEGER
);
INSERT INTO "log_turns" VALUES(1,11,'conv-1','web-1','socketio','it','2026-11-02T09:15:00+00:00','customer','quanto costa la spedizione?','faq',0.93,'La spedizione è gratuita sopra i 50 €.','answered','spedizione',0.88,NULL);
INSERT INTO "log_turns" VALUES(2,NULL,'conv-1','web-1','socketio','it','2026-11-02T10:40:00+00:00','system','',NULL,NULL,'',NULL,NULL,NULL,1);
CREATE TABLE mail_inbox (
                id INTEGER PRIMARY KEY,
                message_key TEXT NOT NULL UNIQUE,
                received_at TEXT NOT NULL,
                sender TEXT,
                ticket_id INTEGER,
                outcome TEXT NOT NULL,
                detail TEXT
            );
INSERT INTO "mail_inbox" VALUES(1,'<r1@example.it>','2026-11-02T10:40:00+00:00','lucia@example.it',1,'added',NULL);
CREATE TABLE mail_outbox (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL,
                kind TEXT NOT NULL,
                source TEXT NOT NULL,
                recipient TEXT NOT NULL,
                lang TEXT NOT NULL,
                message_id TEXT NOT NULL UNIQUE,
                in_reply_to TEXT,
                refs TEXT,
                status TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TEXT,
                created_at TEXT NOT NULL,
                sent_at TEXT,
                last_error TEXT,
                UNIQUE (kind, source)
            );
INSERT INTO "mail_outbox" VALUES(1,1,'answer','2','lucia@example.it','it','<t1.2@example.it>',NULL,NULL,'sent',1,NULL,'2026-11-02T10:40:00+00:00','2026-11-02T10:40:00+00:00',NULL);
CREATE TABLE "phrasing_proposals" (
   "id" INTEGER PRIMARY KEY,
   "article_id" TEXT NOT NULL,
   "lang" TEXT NOT NULL,
   "text" TEXT NOT NULL,
   "norm" TEXT NOT NULL,
   "source" TEXT,
   "status" TEXT NOT NULL,
   "votes" INTEGER,
   "refs" TEXT,
   "first_at" TEXT,
   "last_at" TEXT,
   "decided_by" TEXT,
   "decided_at" TEXT
);
INSERT INTO "phrasing_proposals" VALUES(1,'spedizione','it','quanto pago per la consegna','quanto pago per la consegna','pick','proposed',2,'["conv-1", "conv-2"]','2026-11-02T09:15:00+00:00','2026-11-02T10:40:00+00:00',NULL,NULL);
INSERT INTO "phrasing_proposals" VALUES(2,'resi','it','voglio restituire un paio di scarpe','voglio restituire un paio di scarpe','helpful','approved',1,'["conv-3"]','2026-11-02T09:15:00+00:00','2026-11-02T09:15:00+00:00','anna','2026-11-02T10:40:00+00:00');
CREATE TABLE rating_requests (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    session TEXT NOT NULL DEFAULT '',
    conversation_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    asked_at TEXT NOT NULL,
    status TEXT NOT NULL,
    answered_at TEXT,
    UNIQUE (kind, target_type, target_id, session)
);
INSERT INTO "rating_requests" VALUES(1,'csat','ticket','1','','conv-1','web-1','2026-11-02T10:40:00+00:00','answered','2026-11-02T10:40:00+00:00');
CREATE TABLE ratings (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    value INTEGER NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    article_lang TEXT,
    session TEXT,
    conversation_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    channel TEXT,
    lang TEXT,
    at TEXT NOT NULL
);
INSERT INTO "ratings" VALUES(1,'helpful',1,'article','spedizione','it',NULL,'conv-1','web-1','socketio','it','2026-11-02T09:15:00+00:00');
INSERT INTO "ratings" VALUES(2,'csat',5,'ticket','1',NULL,NULL,'conv-1','web-1','socketio','it','2026-11-02T10:40:00+00:00');
CREATE TABLE ticket_conversations (
                ticket_id INTEGER NOT NULL REFERENCES tickets(id),
                conversation_id TEXT NOT NULL,
                channel TEXT,
                joined_at TEXT NOT NULL,
                PRIMARY KEY (ticket_id, conversation_id)
            );
INSERT INTO "ticket_conversations" VALUES(1,'conv-1','socketio','2026-11-02T09:15:00+00:00');
CREATE TABLE ticket_events (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL REFERENCES tickets(id),
                kind TEXT NOT NULL,
                detail TEXT,
                actor TEXT,
                created_at TEXT NOT NULL
            );
INSERT INTO "ticket_events" VALUES(1,1,'created','asked_for_human/high',NULL,'2026-11-02T09:15:00+00:00');
INSERT INTO "ticket_events" VALUES(2,1,'closed',NULL,'anna','2026-11-02T10:40:00+00:00');
INSERT INTO "ticket_events" VALUES(3,2,'created','kb_abstained/normal',NULL,'2026-11-02T10:40:00+00:00');
CREATE TABLE ticket_messages (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL REFERENCES tickets(id),
                role TEXT NOT NULL,
                text TEXT NOT NULL,
                author TEXT,
                created_at TEXT NOT NULL,
                delivered INTEGER NOT NULL DEFAULT 1,
                delivered_at TEXT
            );
INSERT INTO "ticket_messages" VALUES(1,1,'customer','Il pacco non è arrivato',NULL,'2026-11-02T09:15:00+00:00',1,NULL);
INSERT INTO "ticket_messages" VALUES(2,1,'operator','Lo ricontrolliamo subito.','anna','2026-11-02T10:40:00+00:00',1,'2026-11-02T10:40:00+00:00');
INSERT INTO "ticket_messages" VALUES(3,2,'operator','On its way.','marco','2026-11-02T10:40:00+00:00',0,NULL);
CREATE TABLE tickets (
                id INTEGER PRIMARY KEY,
                conversation_id TEXT NOT NULL,
                customer_id TEXT,
                channel TEXT,
                lang TEXT NOT NULL,
                reason TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at TEXT NOT NULL,
                transcript TEXT NOT NULL DEFAULT '[]'
            , priority TEXT NOT NULL DEFAULT 'normal', assigned_to TEXT, first_response_due TEXT, resolution_due TEXT, first_response_at TEXT, closed_at TEXT, closed_by TEXT, escalation_level INTEGER NOT NULL DEFAULT 0, at_risk INTEGER NOT NULL DEFAULT 0, breached INTEGER NOT NULL DEFAULT 0, customer_email TEXT, resume_delivered INTEGER NOT NULL DEFAULT 0);
INSERT INTO "tickets" VALUES(1,'conv-1','web-1','socketio','it','asked_for_human','closed','2026-11-02T09:15:00+00:00','[{"role": "customer", "text": "Il pacco non è arrivato"}]','high','anna','2026-11-02T10:40:00+00:00','2026-11-02T10:40:00+00:00','2026-11-02T09:15:00+00:00','2026-11-02T10:40:00+00:00','anna',1,1,0,'lucia@example.it',1);
INSERT INTO "tickets" VALUES(2,'conv-2',NULL,'rest','en','kb_abstained','open','2026-11-02T10:40:00+00:00','[]','normal',NULL,'2026-11-02T10:40:00+00:00','2026-11-02T10:40:00+00:00',NULL,NULL,NULL,0,0,0,NULL,0);
CREATE TABLE users (
            username TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('operator', 'supervisor', 'marketing')),
            lang TEXT,
            created_at TEXT NOT NULL,
            password_changed_at TEXT NOT NULL
        );
INSERT INTO "users" VALUES('anna','scrypt$16384$8$1$c2FsdA$aGFzaA','supervisor','it','2026-11-02T09:15:00+00:00','2026-11-02T09:15:00+00:00');
CREATE INDEX "idx_articles_status"
    ON "articles" ("status");
CREATE TRIGGER articles_insert_history AFTER INSERT ON articles BEGIN INSERT INTO article_history (version, id, lang, question, alt_questions, answer, tags, source, status, updated_at, updated_by) VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM article_history WHERE id = NEW.id AND lang = NEW.lang), NEW.id, NEW.lang, NEW.question, NEW.alt_questions, NEW.answer, NEW.tags, NEW.source, NEW.status, NEW.updated_at, NEW.updated_by); END;
CREATE TRIGGER articles_update_history AFTER UPDATE ON articles BEGIN INSERT INTO article_history (version, id, lang, question, alt_questions, answer, tags, source, status, updated_at, updated_by) VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM article_history WHERE id = NEW.id AND lang = NEW.lang), NEW.id, NEW.lang, NEW.question, NEW.alt_questions, NEW.answer, NEW.tags, NEW.source, NEW.status, NEW.updated_at, NEW.updated_by); END;
CREATE TRIGGER articles_insert_bump AFTER INSERT ON articles BEGIN UPDATE kb_state SET version = version + 1 WHERE key = 'articles'; END;
CREATE TRIGGER articles_update_bump AFTER UPDATE ON articles BEGIN UPDATE kb_state SET version = version + 1 WHERE key = 'articles'; END;
CREATE TRIGGER articles_delete_bump AFTER DELETE ON articles BEGIN UPDATE kb_state SET version = version + 1 WHERE key = 'articles'; END;
CREATE UNIQUE INDEX "idx_phrasing_proposals_article_id_lang_norm"
    ON "phrasing_proposals" ("article_id", "lang", "norm");
CREATE INDEX "idx_phrasing_proposals_status"
    ON "phrasing_proposals" ("status");
CREATE INDEX identity_channels_profile ON identity_channels(profile_id);
CREATE INDEX identity_conversations_channel ON identity_conversations(channel_id);
CREATE INDEX identity_contacts_value ON identity_contacts(kind, value);
CREATE INDEX identity_merges_kept ON identity_merges(kept);
CREATE INDEX identity_merges_absorbed ON identity_merges(absorbed);
CREATE UNIQUE INDEX tickets_one_active_per_conversation ON tickets(conversation_id) WHERE status IN ('open', 'claimed');
CREATE INDEX tickets_status ON tickets(status, created_at);
CREATE INDEX ticket_messages_ticket ON ticket_messages(ticket_id, id);
CREATE INDEX ticket_messages_outbox ON ticket_messages(delivered) WHERE delivered = 0;
CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, kind, detail);
CREATE INDEX ticket_conversations_conversation ON ticket_conversations(conversation_id);
CREATE INDEX mail_outbox_due ON mail_outbox(status, next_attempt_at);
CREATE INDEX mail_outbox_ticket ON mail_outbox(ticket_id, id);
CREATE INDEX mail_inbox_ticket ON mail_inbox(ticket_id, id);
CREATE INDEX alerts_unsent ON alerts(audience, sent_at);
CREATE INDEX log_turns_conversation ON log_turns(conversation_id, id);
CREATE INDEX log_turns_customer ON log_turns(customer_id);
CREATE INDEX log_turns_at ON log_turns(at);
CREATE INDEX ratings_target ON ratings(target_type, target_id);
CREATE INDEX ratings_customer ON ratings(customer_id);
CREATE INDEX rating_requests_customer ON rating_requests(customer_id, kind, asked_at);
CREATE VIEW customer_log AS
SELECT conversation_id, customer_id, channel, lang, at, kind, text, reply, decision,
       article_id, confidence, ticket_id
FROM log_turns
UNION ALL
SELECT t.conversation_id, t.customer_id, t.channel, t.lang, m.created_at, 'operator_answer',
       '', m.text, NULL, NULL, NULL, t.id
FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id
WHERE m.role = 'operator';
COMMIT;
