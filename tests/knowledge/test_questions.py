"""Which messages read as a question about the service (and go to the knowledge base)."""

from __future__ import annotations

import pytest

from knowledge.questions import reads_as_question


@pytest.mark.parametrize(
    "text",
    [
        "dove si aggiunge una carta nuova",
        "ho speso 60 euro, la spedizione è gratis?",
        "ciao, come faccio a fare un reso",
        "scusate, posso pagare con il bancomat in negozio",
        "how do i return my order",
        "hi, can I pay by bank transfer",
        "my order of 3 bags arrived, is there a discount next time?",
    ],
)
def test_questions_about_the_service(text):
    assert reads_as_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "2",
        "4 su 5",
        "5? sì perché no",
        "come stai?",
        "grazie mille per l'aiuto",
        "sì grazie",
        "non è quello che chiedevo",
        "buongiorno a tutti voi",
        "ok perfetto grazie ciao",
        "",
    ],
)
def test_conversation_moves_are_not_rerouted(text):
    assert not reads_as_question(text)
