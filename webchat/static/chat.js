/* The chat page's own script (served by webchat/app.py as /chat.js).
 *
 * Why it exists: rasa-webchat keeps its conversation in localStorage ("chat_session")
 * forever, and shows only what its socket receives while the page is open. This script
 *  - dates that record ("sportello_chat": the session id and when to forget it,
 *    config.keepDays after the last message) and deletes it once that time has passed;
 *  - before the widget opens, asks POST /conversation for the ticket's state and the
 *    operators' answers (with the kept session id, or with the token of an answer mail's
 *    "continue the conversation" link, found in the URL's #resume=… fragment) and puts
 *    the answers the customer has not seen into the widget's record, so they appear in
 *    the chat like any other message;
 *  - deletes the conversation from this browser when the customer asks to.
 * With config.keepDays = 0 the widget keeps the chat in the tab only and none of this runs.
 */
(function () {
  "use strict";

  var WIDGET_KEY = "chat_session"; // rasa-webchat 1.0.1's record: session id, messages
  var KEEP_KEY = "sportello_chat"; // ours: {session_id, expires_at (ms since 1970)}
  var DAY_MS = 24 * 60 * 60 * 1000;

  function read(key) {
    try {
      return JSON.parse(window.localStorage.getItem(key));
    } catch (error) {
      return null;
    }
  }

  function write(key, value) {
    window.localStorage.setItem(key, JSON.stringify(value));
  }

  function forget() {
    window.localStorage.removeItem(WIDGET_KEY);
    window.localStorage.removeItem(KEEP_KEY);
  }

  /* Keep the conversation until `until` (ms), or later if already kept longer. */
  function keep(sessionId, until) {
    var kept = read(KEEP_KEY);
    if (kept && kept.session_id === sessionId && kept.expires_at > until) {
      return;
    }
    write(KEEP_KEY, { session_id: sessionId, expires_at: until });
  }

  /* The resume token of a mail link, taken out of the address bar at once. */
  function takeResumeToken() {
    var match = /(?:^#|&)resume=([0-9a-f.]{1,200})(?:&|$)/.exec(window.location.hash);
    if (!match) {
      return null;
    }
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    return match[1];
  }

  /* POST /conversation; resolves to the JSON answer, {gone: true} for 403/410, or null
     when the server could not say (the page then opens the chat as it is). */
  function ask(question) {
    return window
      .fetch("/conversation", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "omit",
        body: JSON.stringify(question),
      })
      .then(function (reply) {
        if (reply.status === 200) {
          return reply.json();
        }
        return reply.status === 403 || reply.status === 410 ? { gone: true } : null;
      })
      .catch(function () {
        return null;
      });
  }

  /* Put the answers the widget's record does not hold yet at the end of the chat. An
     answer pushed while the page was open is already there: texts are matched with
     their count, so a second "Grazie" is still added. A record of another conversation
     (the mail link names a different one) is replaced. */
  function addMissedAnswers(sessionId, answers, widgetVersion) {
    var record = read(WIDGET_KEY);
    if (!record || record.session_id !== sessionId) {
      // Marked initialized: the widget must not send its greeting into a conversation
      // that is already under way.
      record = { session_id: sessionId, conversation: [], params: { initialized: true } };
    }
    record.version = record.version || widgetVersion;
    var conversation = record.conversation || [];
    var shown = {};
    conversation.forEach(function (message) {
      if (message.sender === "response" && typeof message.text === "string") {
        shown[message.text] = (shown[message.text] || 0) + 1;
      }
    });
    answers.forEach(function (answer) {
      if (shown[answer.text]) {
        shown[answer.text] -= 1;
        return;
      }
      conversation.push({
        type: "text",
        text: answer.text,
        sender: "response",
        showAvatar: true,
        timestamp: Date.parse(answer.at) || Date.now(),
      });
    });
    record.conversation = conversation;
    record.lastUpdate = Date.now();
    write(WIDGET_KEY, record);
  }

  function showState(text) {
    var line = document.getElementById("chat-state");
    if (line && text) {
      line.textContent = text;
      line.hidden = false;
    }
  }

  function mount(config, container) {
    var keepMs = config.keepDays * DAY_MS;
    function sessionOf(data) {
      return data && data.session_id ? data.session_id : data;
    }
    var current = null;
    config.widget.onSocketEvent = {
      // Every visit and every message of the bot or an operator pushes the date on.
      session_confirm: function (data) {
        current = sessionOf(data);
        if (typeof current === "string") {
          keep(current, Date.now() + keepMs);
        }
      },
      bot_uttered: function () {
        if (typeof current === "string") {
          keep(current, Date.now() + keepMs);
        }
      },
    };
    window.WebChat.default(config.widget, container);
  }

  function start(config, container) {
    var button = document.getElementById("forget-chat");
    if (button) {
      button.addEventListener("click", function () {
        forget();
        window.location.replace(window.location.pathname + window.location.search);
      });
    }
    if (!(config.keepDays > 0)) {
      window.WebChat.default(config.widget, container);
      return;
    }
    var token = takeResumeToken();
    var kept = read(KEEP_KEY);
    var record = read(WIDGET_KEY);
    if (!kept || kept.expires_at <= Date.now() || !record || record.session_id !== kept.session_id) {
      // Past its time, or a record this page never dated: not kept.
      forget();
      kept = null;
    }
    var question = null;
    if (token) {
      question = { resume: token, lang: config.lang };
    } else if (kept) {
      question = { session_id: kept.session_id, lang: config.lang };
    }
    if (!question) {
      mount(config, container);
      return;
    }
    ask(question).then(function (reply) {
      if (reply && reply.gone) {
        if (token) {
          showState(config.linkExpiredText);
        } else {
          forget();
        }
      } else if (reply && typeof reply.session_id === "string") {
        if (reply.ticket || token) {
          addMissedAnswers(reply.session_id, reply.answers || [], config.widgetVersion);
        }
        var until = Date.parse(reply.expires_at) || Date.now() + config.keepDays * DAY_MS;
        keep(reply.session_id, until);
        showState(reply.ticket && reply.ticket.text);
      }
      mount(config, container);
    });
  }

  window.SportelloChat = { start: start, forget: forget };
})();
