"""The language layer: normalising, matching, typo tolerance, the classifier, the corpus."""

from __future__ import annotations

import pytest

from intake.flow.engine import Flow
from intake.flow.language.normalise import Normaliser
from intake.flow.text import plain

from .evaluate import evaluate, load_flow, load_split

# Figures measured on the evaluation split when this layer landed; they may only go up.
# The targets (crisis recall 100 %, intent accuracy 95 %, false alarms 5 % of calm
# messages) are not met yet: see test_it_meets_the_targets_on_the_evaluation_split.
# what the evaluation split reads now (96.8%, 99.6%, 2.3%), less a row of intent accuracy:
# retraining on any new example or word moves a row or two of the 412 either way
FLOOR = {"crisis_recall": 0.995, "intent_accuracy": 0.966, "calm_false_alarms": 0.023}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ñó, STOP!", "no stop"),
        ("I can't", "i cant"),
        ("I want to die 😭", "i want to die loudly crying face"),
        ("¿Depresión?", "depresion"),
        ("", ""),
    ],
)
def test_it_makes_plain_words(text: str, expected: str) -> None:
    assert plain(text) == expected


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("pls call u tmrw", "en", "please call you tomorrow"),
        ("sooo sad", "en", "so sad"),
        ("helppp", "en", "help"),
        ("yesss", "en", "yes"),
        ("anxeity", "en", "anxiety"),
        ("opiods", "en", "opioids"),
        ("xq tmb", "es", "porque tambien"),
        ("depresion", "es", "depresion"),  # a Spanish word is not "corrected" to English
    ],
)
def test_it_reads_shorthand_stretching_and_typos(
    flow: Flow, text: str, language: str, expected: str
) -> None:
    assert flow.language.normaliser.words(text, language) == expected


@pytest.mark.parametrize("word", ["no", "si", "ok", "od", "me", "yo", "mi"])
def test_it_is_never_fuzzy_on_short_words(flow: Flow, word: str) -> None:
    assert flow.language.normaliser.correct(word) == word


@pytest.mark.parametrize(
    ("typo", "meant"), [("suicdial", "suicidal"), ("sucidal", "suicidal"), ("suicidle", "suicide")]
)
def test_it_corrects_typos_to_the_forms_a_stem_rule_matches(
    flow: Flow, typo: str, meant: str
) -> None:
    # the rules say "suicid*"; a typo is corrected to the forms the examples use
    assert flow.language.normaliser.correct(typo) == meant


def test_it_reads_a_dropped_g_as_said(flow: Flow) -> None:
    words = flow.language.normaliser.words
    assert words("tryin to sleep, bleedin a lil", "en") == "trying to sleep bleeding a lil"


@pytest.mark.parametrize("word", ["clapping", "lunches", "licking", "drowsing", "taped"])
def test_it_never_corrects_a_word_into_a_short_crisis_word(flow: Flow, word: str) -> None:
    assert flow.language.normaliser.correct(word) == word


@pytest.mark.parametrize(
    "word",
    [
        "mouse",
        "rouse",
        "bumped",
        "dumped",
        "mailing",
        "pasarme",
        "lighting",
        "slash",
        "holis",
        "clipping",
    ],
)
def test_it_never_corrects_a_word_into_one_of_the_exact_words(flow: Flow, word: str) -> None:
    # "house", "jumped", "railing" and "casarme" are rule words, but `exact_words`
    assert flow.language.normaliser.correct(word) == word


def test_it_scales_typo_tolerance_with_word_length(flow: Flow) -> None:
    correct = flow.language.normaliser.correct
    assert correct("anxiet") == "anxiety"  # 6 letters: one edit
    assert correct("anxxxety") != "anxiety" or len("anxxxety") >= 8  # long: two edits at most
    assert correct("zzzzzzzzzz") == "zzzzzzzzzz"  # nothing near: left alone


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("pills in my hand", "en"),  # not "and" (a silent h is Spanish spelling)
        ("we buried him", "en"),  # not "burned"
        ("short of breath", "en"),  # not "shoot"
        ("it might rain", "en"),  # not "night"
        ("the loss", "en"),  # not Spanish "los"
    ],
)
def test_it_leaves_words_the_examples_use_often_as_they_are(
    flow: Flow, text: str, language: str
) -> None:
    assert flow.language.normaliser.words(text, language) == text


@pytest.mark.parametrize(
    ("word", "meant"),
    [("meet", "meet"), ("supper", "supper"), ("ammo", "ammo"), ("yess", "yes"), ("diee", "die")],
)
def test_it_reads_a_doubled_last_letter_as_a_slip_and_a_doubled_inner_one_as_the_word(
    word: str, meant: str
) -> None:
    # the vocabulary knows the single forms only, as when the examples use a word once
    normaliser = Normaliser({}, ["en", "es"])
    normaliser.learn(["met", "super", "amo", "yes", "die"], 5, [])
    assert normaliser.correct(word) == meant


@pytest.mark.parametrize(
    ("word", "meant"),
    [
        ("closed", "closed"),  # a past tense, not "closet"
        ("taped", "taped"),  # not "taper"
        ("depresed", "depressed"),  # a past tense with a typo is still corrected
        ("perscribed", "prescribed"),
    ],
)
def test_it_keeps_a_past_tense_a_past_tense(flow: Flow, word: str, meant: str) -> None:
    assert flow.language.normaliser.correct(word) == meant


def test_it_reads_spanish_written_as_it_sounds(flow: Flow) -> None:
    assert flow.language.normaliser.words("no kiero bibir", "es") == "no quiero vivir"
    # spelled as said is not a typo: crisis phrases read it as sure as the spelled word
    assert flow.language.normaliser.expand("no quiero bibir", "es") == "no quiero vivir"
    assert flow.language.normaliser.words("meet me in the hall", "en") == "meet me in the hall"
    found = flow.language.read("ya no kiero bibir", "es").crisis
    assert found is not None and found[0] == "suicide"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("are opioids addictive?", "opioids"),
        ("tell me about depression", "depression"),
        ("i have really bad anxiety", "anxiety"),
        ("what treatment do you offer", "treatment"),
        ("can someone call me tonight after 6", "call"),
        ("anxeity", "anxiety"),
        ("opiods", "opioids"),
        ("que efectos secundarios tiene la metadona", "effects"),
        ("quiero hablar con alguien", "call"),
        ("tienen grupos de apoyo en español?", "treatment"),  # the topic, not a switch
    ],
)
def test_it_finds_the_intent_inside_a_sentence(flow: Flow, text: str, intent: str) -> None:
    reading = flow.language.read(text, "en")
    assert reading.crisis is None
    assert reading.intent == intent


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop!!",
        "Stop stop stop",
        "please stop texting me",
        "unsubscribe me",
        "PARAR",
        "unsub",
        "remove me",
        "desuscribirme",
        "como me desuscribo de esto",
    ],
)
def test_it_opts_out_on_clear_requests(flow: Flow, text: str) -> None:
    assert flow.language.read(text, "en").intent == "stop"


@pytest.mark.parametrize(
    "text",
    [
        "dont stop",
        "please dont stop texting me",
        "I can't stop using",
        "how do i stop opioids",
        "no quiero desuscribirme",
        "no quiero dejar de recibir los mensajes",
    ],
)
def test_it_keeps_opting_out_conservative(flow: Flow, text: str) -> None:
    assert flow.language.read(text, "en").intent != "stop"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("please do not call me", "en"),
        ("i dont need a callback thanks", "en"),
        ("dont call, im at work", "en"),
        ("no me llamen por favor", "es"),
        ("no necesito una llamada", "es"),
    ],
)
def test_it_does_not_take_a_call_declined_for_a_callback(
    flow: Flow, text: str, language: str
) -> None:
    reading = flow.language.read(text, language)
    assert reading.intent != "call" and "call" not in reading.clarify
    # the same words, asked for, are a callback
    assert flow.language.read("can someone call me tonight", "en").intent == "call"
    assert flow.language.read("me pueden llamar en la tarde", "es").intent == "call"


def test_it_never_opts_out_on_a_guess_alone(flow: Flow) -> None:
    stop = flow.language.spec.intents["stop"]
    assert stop.classify is False
    reading = flow.language.read("no mas por favor", "es")
    assert reading.keyword is None and not reading.found
    assert reading.ranked[0][0] == "stop"  # the classifier's best guess, never acted on alone
    assert reading.intent is None


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("can you guys quit with all the msgs", "en"),
        ("i dont want ur msgs anymore", "en"),
        ("ya no quiero que me escriban a este numero", "es"),
    ],
)
def test_it_opts_out_on_a_sure_guess_that_names_the_messages(
    flow: Flow, text: str, lang: str
) -> None:
    reading = flow.language.read(text, lang)
    assert reading.keyword is None and "stop" not in {m.intent for m in reading.found}
    assert reading.source == "classifier"  # no rule: the guarded guess did it
    assert reading.intent == "stop"


@pytest.mark.parametrize(
    "text",
    ["please keep texting me", "dont remove me from the list", "i cant stop texting my ex"],
)
def test_a_guarded_guess_still_respects_negations(flow: Flow, text: str) -> None:
    assert flow.language.read(text, "en").intent != "stop"


def test_it_opts_back_in_on_a_sure_guess(flow: Flow) -> None:
    reading = flow.language.read("can i get the msgs again", "en")
    assert reading.intent == "start"
    assert flow.language.read("text me back", "en").intent != "start"


def test_it_gives_the_same_answer_to_the_same_message(flow: Flow) -> None:
    texts = ["hey so like what do opioids even do", "me siento muy mal", "ok", "💀💀"]
    first = [flow.language.read(t, "en") for t in texts]
    again = [flow.language.read(t, "en") for t in texts]
    assert first == again


def test_it_offers_two_intents_when_unsure(flow: Flow) -> None:
    reading = flow.language.read("anxiety or depression", "en")
    assert reading.intent is None
    assert set(reading.clarify) == {"anxiety", "depression"}


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("i want it all to end", "suicide"),
        ("i dont see the point of living anymore", "suicide"),
        ("I just want it all to end", "suicide"),
        ("kms", "suicide"),
        ("gonna unalive myself tonight", "suicide"),
        ("he took too many pills and his lips are blue", "overdose"),
        ("my friend wont wake up", "overdose"),
        ("i keep cutting myself", "self_harm"),
        ("ya no quiero vivir", "suicide"),
        ("mi novio no respira", "overdose"),
        ("im not suicidal but i burned myself again tonight", "self_harm"),
        ("cant talk hes here", "danger"),
        ("he keeps talking about ending it", "suicide"),
        ("cutting", "self_harm"),  # one word, but the model is sure
        ("need a safe place to stay tonight", "danger"),
        ("cant promise ill be safe tonight", "suicide"),
        ("took the safety off, its in my lap", "suicide"),
        ("wish i had died in the fire instead of my wife", "suicide"),
        ("a man is down behind the store, somebody bring narcan", "overdose"),
        ("thinking i might just eat my gun tonight", "suicide"),
        ("bought a hose for the exhaust, the garage is ready", "suicide"),
        ("they'll find me at the bottom of the river", "suicide"),
        ("as a nurse i know exactly how much it would take", "suicide"),
        ("my toddler got into the pills on the nightstand", "overdose"),
        ("someone left a bullet on my porch with my name on it", "danger"),
        ("kids are asleep. i clocked out for good, sorry", "suicide"),
        ("want to fall asleep and never have to do another morning", "suicide"),
        ("if i wreck the truck tonight it wont be an accident", "suicide"),
        ("kids are at grandmas so nobody will find me till sunday", "suicide"),
        ("si me estrello con el carro no va a ser accidente", "suicide"),
        ("phone off after this. just wanted somebody to know i was here", "suicide"),
        # said in passing: followed, a weapon in the lap, not being around, a child's room
        ("can i still come in at 9, a truck has been following me for six blocks", "danger"),
        ("is the pharmacy open late. got the rifle in my lap again", "suicide"),
        ("pls give my intake slot to someone else, i wont be around much longer", "suicide"),
        ("my uncle comes into my room at night when mom works late", "danger"),
        ("she picks at her arms until they bleed when shes alone", "self_harm"),
        ("his lips look gray and he keeps nodding off", "overdose"),
        ("i have a plan and a date now", "suicide"),
        ("gg everyone, see you never", "suicide"),
        ("my aunt shook the baby so hard he went quiet", "danger"),
        ("my stepdad keeps coming into my room at night", "danger"),
        ("his lips are grey and hes out cold on the bathroom floor", "overdose"),
        ("gonna take a nap, the permanent kind", "suicide"),
        ("the voices keep telling me its time", "suicide"),
    ],
)
def test_it_catches_crisis_language(flow: Flow, text: str, category: str) -> None:
    found = flow.language.read(text, "en").crisis
    assert found is not None and found[0] == category


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("haha i want to die", "en"),
        ("lol i want to kill myself", "en"),
        ("jaja me quiero morir", "es"),
        ("jajaja me quiero matar neta", "es"),
        ("me quiero morir jaja pero no es broma", "es"),
    ],
)
def test_laughter_does_not_make_a_wish_to_die_a_joke(flow: Flow, text: str, lang: str) -> None:
    # nervous laughter is common in a real crisis; a false alarm is the cheaper mistake
    found = flow.language.read(text, lang).crisis
    assert found is not None and found[0] == "suicide"


@pytest.mark.parametrize(
    "text",
    [
        "does fentanyl have side effects",
        "what does narcan do",
        "my grandma passed away last year",
        "this homework is killing me lol",
        "my dad keeps his hunting rifle locked up",
        "cutting up onions and crying lol",
        "trying to cut back on energy drinks",
        # the classifier reads this as self-harm at 0.997: the calm context must veto it
        "im cutting down on cigarettes",
        "no suicidal thoughts, just tired",
        "my boss is gonna kill me if im late",
        "my wife says shell kill me if i forget our anniversary, shes joking",
        "my nephew got a nerf gun for his birthday",
        "i get short of breath every time i go in a crowded store, is that panic",
        "we lost two friends to suicide, running a 5k in their memory",
        "i aint suicidal or anything, just bored tonight",
        "dont worry im not gonna hurt myself, just a long day at work",
        "my mom overdosed when i was 14, ive made my peace with it",
        "i used to self harm but im doing way better now",
        "i dont want to die, i want to live and be there for my kids",
        "my sister shot me a text saying she got the job",
        "i lost my aunt to suicide, is there a group for families",
        "that show was so sad i wanted to die",
        "beats me lol, no idea what time they open",
        "i took my keys to the locksmith, can someone call me after",
        "the tackle knocked him out cold but hes fine now",
        "my ex used to scare me but he moved out of state years ago and nothing has happened since",
        "i feel trapped in my addiction, what are my options",
        # a question beside a weapon that is not out now, said in a sentence of its own
        "what does detox cost? my husband has a gun collection",
        "do you take tricare? his guns are locked in a safe right now",
        "how much is rehab, my dad is a hunter and has his rifle with him right now at camp",
        # what hurts a mother is named: a habit, not a man ("hes hurting my mom")
        "my using is hurting my mom so much, how do i start treatment",
        # an attack that the police stopped; idioms of death and of being tied up
        "they say a kid plans to attack the school but police already arrested him",
        "we beat that topic to death in group",
        "my anger is tied to my using, do you treat that",
        "im tied up at work till 6, can someone call after",
        "we did a unit on forced marriage laws in social studies today",
        # the joke, not the plea; words one letter from the new ones
        "send help lol my cat knocked the tree over again",
        "closing shift at work tonight, can someone call after 11",
        "i was mauled by a dog as a kid and still flinch, does therapy help with that",
        "the puppy keeps biting my socks lol",
        "i keep biting my nails since i quit, is that normal",
        "my phone died, charging at my sisters now, text me there",
        "my aunt talked my ear off about her pain pills all night",
        "we lit the candles for my brother tonight, would have been 5 years clean",
        "my niece sang set fire to the rain at karaoke and we all cried laughing",
        "my sons school has an active shooter drill tomorrow and hes so anxious about it",
        "my grandma is dying in the hospital and i cant stop crying, is there someone to talk to",
    ],
)
def test_it_leaves_calm_mentions_of_drugs_and_death_alone(flow: Flow, text: str) -> None:
    assert flow.language.read(text, "en").crisis is None


@pytest.mark.parametrize(
    ("text", "lang", "category"),
    [
        ("held my hand on the stove on purpose tonight", "en", "self_harm"),
        ("me quemé con la plancha a propósito", "es", "self_harm"),
        # old wounds opened again: "old scars" is no alibi then
        ("i reopened my old scars last night", "en", "self_harm"),
        ("cut my old scars back open again tonight", "en", "self_harm"),
        ("volvi a abrir mis cicatrices viejas anoche", "es", "self_harm"),
        # harm done to the writer: "every time" is no alibi then
        ("cada vez que llega borracho me agarra a golpes", "es", "danger"),
        ("mi padrastro me da de golpes cada vez que se enoja", "es", "danger"),
        # hands laid on someone, beside everyday words ("whenever i", "my dog", "back pain")
        ("she slaps me whenever i talk back", "en", "danger"),
        ("es que me patea cada vez que llego tarde", "es", "danger"),
        # no crisis phrase at all: the classifier is sure, and everyday words do not veto it
        ("my husband kicked my dog across the room and said im next", "en", "danger"),
        ("my son pushed me down the stairs and now i have back pain", "en", "danger"),
        ("mi papa le pega a mi perro y luego a mi", "es", "danger"),
        ("my charger is dead and so am i soon, saving the last pills for tonight", "en", "suicide"),
        # watched, locked in, leaving in secret, nowhere safe to go
        ("if he sees this im dead", "en", "danger"),
        ("i need to get out of here before he wakes up", "en", "danger"),
        ("can you help me find a shelter, i cant go back there", "en", "danger"),
        ("is it normal that he locks the doors so i cant leave", "en", "danger"),
        ("me encierra en el cuarto cuando se droga", "es", "danger"),
        ("he took my keys and says im not leaving till he gets his money", "en", "danger"),
        ("is it normal that he does not let me leave for days", "en", "danger"),
        ("he beats me when hes using and hes using tonight", "en", "danger"),
        ("a boy brought a gun on the bus and my son is hiding in the bathroom", "en", "danger"),
        # the person is listened to or found; the sounds of it happening
        ("text only, dont call he checks", "en", "danger"),
        ("cant say much hes listening", "en", "danger"),
        ("he found out where im staying now", "en", "danger"),
        ("the guy i owe knows where i live", "en", "danger"),
        ("glass breaking upstairs again and my mom is crying", "en", "danger"),
        ("somebody is shooting on our street, we are on the floor", "en", "danger"),
        ("no me llames el esta aqui", "es", "danger"),
        ("me escriben que saben donde vivo y que me van a matar", "es", "danger"),
        # quiet danger: control, being watched or found, a calm threat, neglect, a code word
        ("he wont let me talk to my sister anymore and took my phone", "en", "danger"),
        ("she watches everything i do and says shell know if i tell", "en", "danger"),
        ("my ex found my new address somehow", "en", "danger"),
        ("he said hed hate for something to happen to the kids", "en", "danger"),
        ("my brother texted our code word and now his phone is off", "en", "danger"),
        ("im scared of my husband, what do i do", "en", "danger"),
        ("my aunt is not feeding him and he lost so much weight", "en", "danger"),
        ("hay algun lugar seguro para mi y mis hijos esta noche", "es", "danger"),
        ("do you have beds tonight, i have to get away from my husband", "en", "danger"),
        ("my roommate came at me with a bat", "en", "danger"),
        ("a man texts me what im wearing every day from a number i dont know", "en", "danger"),
        ("donde puedo ir, me estoy escapando de mi esposo con mis hijos", "es", "danger"),
        # harm the writer fears doing, exploitation, a one-word plea
        ("swear im gonna beat him until he stops breathing", "en", "danger"),
        ("walking up to him now, got my strap on me", "en", "danger"),
        ("a guy online keeps asking her for pics and sent an address to come to", "en", "danger"),
        ("please help im being trafficked", "en", "danger"),
        ("trapped", "en", "danger"),
        # a plan carried out, and a question asked before one
        ("if im not at work tomorrow its because i went through with it", "en", "suicide"),
        ("does it hurt to die from pills or do you just sleep", "en", "suicide"),
        # the euphemisms
        ("my boyfriend gets rough with me when hes dope sick", "en", "danger"),
        ("mi novio se pone agresivo cuando no tiene pastillas", "es", "danger"),
        # a reassurance beside harm done now
        ("he pushed me down the steps but im ok, hes still in the house", "en", "danger"),
        ("me estoy arrancando el pelo otra vez, ya me sangra", "es", "self_harm"),
        ("ia no quiero bibir, estoi sola aqui", "es", "suicide"),
        ("compre veneno para ratas y no es para las ratas", "es", "suicide"),
        ("la vecina esta sacudiendo al bebe y no para", "es", "danger"),
        (
            "my neighbor threatens me with a machete, i get panic attacks every time i go out",
            "en",
            "danger",
        ),
        ("me estoy rasguñando otra vez, tengo el brazo en carne viva", "es", "self_harm"),
        ("hay una nina sola en la calle llorando y ningun adulto", "es", "danger"),
    ],
)
def test_it_takes_harm_meant_in_a_calm_place_seriously(
    flow: Flow, text: str, lang: str, category: str
) -> None:
    found = flow.language.read(text, lang).crisis
    assert found is not None and found[0] == category


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # a plain denial with something else said: a reason to live, why they wrote
        ("i would never hurt myself, my little girl needs her dad", "en"),
        ("no im not going to kill myself, i have a lot to live for and my sponsor is great", "en"),
        ("i'm not suicidal, i just wanted to talk to a real person for a minute", "en"),
        ("no me voy a hacer daño, solo queria platicar con alguien", "es"),
        # an accident with its cause
        ("cut my hands up fixing the barbed wire fence this morning", "en"),
        ("burned my fingers on the grill flipping burgers at work", "en"),
        ("sliced my thumb by accident opening a package", "en"),
        ("me queme la mano en el asador sin querer", "es"),
        # asked to be ready some day, not an emergency now
        ("what are the signs someone is having an overdose, for future reference", "en"),
        ("how does naloxone bring someone back from an overdose", "en"),
        ("cuales son las senales de sobredosis para saber que hacer si pasa", "es"),
        ("can xanax make you stop breathing if you take a lot with alcohol", "en"),
        ("can it hurt someone if they get narcan and werent overdosing", "en"),
        ("my teacher said 2 mg of fentanyl is a lethal dose is that true", "en"),
        # play
        ("my grandson pretended to shoot me with a stick and i played dead lol", "en"),
        # a sports injury; hyperbole about coffee
        ("hurt myself lifting weights, pulled a muscle in my back", "en"),
        ("i hurt myself playing basketball, is advil ok with suboxone", "en"),
        ("me lastime haciendo ejercicio, me torci el tobillo", "es"),
        ("i'm literally going to die if i don't get coffee", "en"),
        ("me muero si no me tomo mi cafe", "es"),
        # domestic violence as a topic: a program, a referral, a past that is over
        ("do you have groups for women who went through domestic violence and now use", "en"),
        ("im a social worker, can i refer clients leaving domestic violence to your detox", "en"),
        ("tienen terapia para mujeres que sufrieron violencia domestica hace anos", "es"),
    ],
)
def test_it_takes_denials_accidents_questions_and_play_calmly(
    flow: Flow, text: str, lang: str
) -> None:
    assert flow.language.read(text, lang).crisis is None


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # a question first, then, in another sentence, a weapon out right now: the question
        # outweighs it in the whole message, not in its own sentence
        ("do you take tricare? my husband is waving his pistol around right now", "en"),
        ("what does detox cost? my husband has his gun out right now", "en"),
        ("just wondering what the signs of withdrawal are, my brother has a knife right now", "en"),
        ("aceptan seguro? mi esposo tiene la pistola en la mano ahorita", "es"),
        # one run-on sentence: a general question's words do not raise the bar beside "now"
        ("is it true you take medicaid my stepdad is holding a knife right now", "en"),
        # a door being smashed in is no topic, whatever was asked first about panic attacks
        ("are panic attacks dangerous? my boyfriend is smashing the door in", "en"),
    ],
)
def test_a_question_first_does_not_outweigh_danger_now(flow: Flow, text: str, lang: str) -> None:
    assert flow.language.read(text, lang).crisis == ("danger", lang)


@pytest.mark.parametrize(
    ("text", "lang", "category"),
    [
        # a denial that hedges, takes itself back or holds for now only
        ("im not gonna kill myself... probably", "en", "suicide"),
        ("I won't do it tonight", "en", "suicide"),
        ("i promised i wouldnt but i did it again last night", "en", "self_harm"),
        ("im not going to kill myself tonight", "en", "suicide"),
        ("i wont kill myself, not yet anyway", "en", "suicide"),
        ("i would never kill myself but i think about it a lot", "en", "suicide"),
        ("no me voy a matar, creo", "es", "suicide"),
        ("hoy no me voy a matar", "es", "suicide"),
        ("i dont want to die i just cut", "en", "self_harm"),
        ("como le hago para ya no lastimarme, ya intente de todo", "es", "self_harm"),
        ("ya no tengo razon para vivir, me voy con mi esposa", "es", "suicide"),
        # harm meant, or done by someone, whatever the place or the object
        ("i burned myself on purpose", "en", "self_harm"),
        ("cut my arm again last night", "en", "self_harm"),
        ("i cut myself at work in the bathroom so nobody sees", "en", "self_harm"),
        ("my stepdad burns me with cigarettes when hes drunk", "en", "danger"),
        ("i cut myself in the bathroom at the gym again", "en", "self_harm"),
        ("sprained my ankle and now i just want to end it all", "en", "suicide"),
        # an emergency now, even said as a question
        ("he took too much and won't wake up", "en", "overdose"),
        ("what do i do hes overdosing right now", "en", "overdose"),
        ("how do i use narcan, my brother is blue and not breathing", "en", "overdose"),
        ("what would happen if i took 30 of my trazodone at once", "en", None),
        ("how much oxy is a lethal dose, i have 40 here", "en", "suicide"),
        ("i want to hurt someone if they touch my kid again", "en", "danger"),
        ("my teacher hurts me after class", "en", "danger"),
        # "what do i do" asks for help now: not a question in general
        ("my cousin just od'd in the bathroom what do i do", "en", "overdose"),
        # a negation does not reach into the next clause
        ("text me dont call. if she sees my phone ring im in trouble", "en", "danger"),
        # for now only, even where the classifier alone would not be sure
        ("tonight i wont kill myself", "en", "suicide"),
        # a typo of a long crisis word
        ("feeling sucidal again", "en", "suicide"),
        ("me aventó contra la pared y sigue aquí", "es", "danger"),
        # "not fine", "no estoy bien" end the negated thought: what follows is said
        ("im fine. not fine. hes listening", "en", "danger"),
        ("no estoy bien, me quiere matar", "es", "danger"),
        # a dropped g is said that way, not a typo
        ("somebody tryin to break in", "en", "danger"),
        ("the doors are locked and the driver wont let me out", "en", "danger"),
        # danger in a detail of another question, or behind a calm word ("church", "make you")
        ("do you take aetna. also my roommate held a gun to my head last night", "en", "danger"),
        ("youth pastor locks the office door when im alone with him, is that ok", "en", "danger"),
        ("does this make you sleepy? coach said hell lock you in his office again", "en", "danger"),
        ("my friend texted me help an hour ago and now her phone is off", "en", "danger"),
    ],
)
def test_it_keeps_hedged_denials_harm_meant_and_emergencies_a_crisis(
    flow: Flow, text: str, lang: str, category: str | None
) -> None:
    found = flow.language.read(text, lang).crisis
    assert found is not None and (category is None or found[0] == category)


def test_talk_of_the_past_beside_tonight_is_doubt_not_reassurance(flow: Flow) -> None:
    # No crisis word, "when i was a kid" beside "tonight", and a classifier that splits the
    # message between danger and suicide: neither alone clears the bar doubt sets, together
    # they do; without "tonight" the past would have set the higher bar of reassurance.
    text = (
        "when i was a kid we came to this beach every summer. im back alone and i dont have "
        "anything left and im thinking about swimming out tonight"
    )
    assert flow.language.read(text, "en").crisis is not None
    assert flow.language.rules.now(flow.language.normaliser.words(text, "en"))
    assert not flow.language.rules.now("im doing a lot better now")


def test_a_negation_undoes_a_calm_context(flow: Flow) -> None:
    calm = flow.language.rules.calm_categories
    assert "all" in calm("he was joking", "he was joking")
    assert "all" not in calm("im not joking", "im not joking")
    assert "all" not in calm("no es broma", "no es broma")
    assert "self_harm" in calm("burned it on the stove", "burned it on the stove")
    assert calm("burned it on the stove on purpose", "burned it on the stove on purpose") == set()
    stove = "burned it on the stove not on purpose"
    assert "self_harm" in calm(stove, stove)


def test_a_negation_ending_a_sentence_does_not_undo_the_calm_context_after_it(
    flow: Flow,
) -> None:
    # "is that a panic attack" follows "im not"; "panic attack" inside it stands on its own
    calm = flow.language.rules.calm_categories
    text = "it feels like im gonna die but i know im not is that a panic attack"
    assert "all" in calm(text, text)
    assert "all" not in calm("its not a panic attack", "its not a panic attack")
    symptom = (
        "before exams my heart pounds and it feels like im gonna die but i know im not. "
        "is that a panic attack?"
    )
    assert flow.language.read(symptom, "en").crisis is None


def _rules_crisis(
    flow: Flow, text: str, lang: str, calm: set[str] | None = None
) -> tuple[tuple[str, str] | None, tuple[str, str] | None, str]:
    """The rules' (crisis, mention, doubt) for `text`; `calm`: the message's calm cues."""
    language = flow.language
    words = language.normaliser.words(text, lang)
    if calm is None:
        calm = _calm_cues(flow, text, lang)
    return language.rules.crisis(
        plain(text), language.normaliser.expand(text, lang), words, lang, calm
    )


def _calm_cues(flow: Flow, text: str, lang: str) -> set[str]:
    """The crisis categories (or "all") the rules find a calm context for in `text`."""
    return flow.language.rules.calm_categories(
        plain(text), flow.language.normaliser.words(text, lang)
    )


@pytest.mark.parametrize(
    "text",
    [
        "i dont think anyone can talk me out of it anymore",
        "i dont care if i die tonight",
    ],
)
def test_a_negation_that_doubts_anyone_could_stop_it_is_no_denial(flow: Flow, text: str) -> None:
    sure, _mention, doubt = _rules_crisis(flow, text, "en", set())
    assert sure is not None and doubt == "", (sure, doubt)


def test_not_like_i_want_to_is_a_denial(flow: Flow) -> None:
    text = "feeling sad since winter, not like i want to hurt myself or anything, just heavy"
    _sure, mention, doubt = _rules_crisis(flow, text, "en", set())
    assert mention is not None and doubt == "negated"
    assert flow.language.read(text, "en").crisis is None


def test_it_regenerates_the_promoted_splits_file() -> None:
    from .promote import TARGET, render

    first = TARGET.read_text("utf-8").splitlines()[0]
    names = first.split("development splits ")[1].split(" (")[0].split(", ")
    assert render(names) == TARGET.read_text("utf-8")


def test_it_keeps_the_evaluation_split_apart_from_the_training_examples(flow: Flow) -> None:
    import yaml

    from .evaluate import ROOT, SPLITS

    trained = set()
    for path in sorted((ROOT / "flows/language").glob("examples*.yaml")):
        examples = yaml.safe_load(path.read_text("utf-8"))
        trained |= {plain(t) for by in examples.values() for items in by.values() for t in items}
    held_out = {plain(str(row["text"])) for row in load_split("eval")}
    # Counts only: printing the rows would show held-out texts to whoever reads the failure.
    shared = len(held_out & trained)
    assert shared == 0, f"{shared} evaluation rows are in training"
    for split in SPLITS[:-1]:
        shared = len(held_out & {plain(str(row["text"])) for row in load_split(split)})
        assert shared == 0, f"{shared} evaluation rows are in {split}"


def test_it_has_a_corpus_of_at_least_1500_labelled_messages() -> None:
    rows = load_split("dev") + load_split("eval")
    assert len(rows) >= 1500
    assert {row["lang"] for row in rows} == {"en", "es"}
    labels = {row["intent"] for row in rows}
    assert {"crisis_suicide", "crisis_self_harm", "crisis_overdose", "crisis_danger"} <= labels
    assert sum(1 for row in rows if row.get("calm")) >= 200


def test_it_holds_its_figures_on_the_evaluation_split(flow: Flow) -> None:
    report = evaluate(flow, load_split("eval"))["all"]
    assert report.crisis_recall >= FLOOR["crisis_recall"]
    assert report.intent_accuracy >= FLOOR["intent_accuracy"]
    assert report.calm_false_alarms <= FLOOR["calm_false_alarms"]


@pytest.mark.xfail(strict=True, reason="issue targets not met yet; make eval prints the figures")
def test_it_meets_the_targets_on_the_evaluation_split(flow: Flow) -> None:
    for lang, report in evaluate(flow, load_split("eval")).items():
        assert report.crisis_recall == 1.0, lang
        assert report.intent_accuracy >= 0.95, lang
        assert report.calm_false_alarms <= 0.05, lang


def test_it_trains_the_same_model_in_every_process(flow: Flow) -> None:
    """Two gunicorn workers train apart; a message must get the same answer from either."""
    from intake.flow.loader import _MODELS, _load_all_examples, train_model

    from .evaluate import ROOT

    examples = _load_all_examples(ROOT / "flows/language", []) or {}
    texts, labels = flow.language.training_data(examples)
    _MODELS.clear()  # train again in a new child process, as another worker would
    again = train_model(texts, labels)
    assert flow.language.model is not None
    assert again.to_bytes() == flow.language.model.to_bytes()


def test_it_trains_once_per_process_and_its_forks(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gunicorn's master trains; workers forked from it find the model and start at once."""
    import subprocess

    from intake.flow import loader

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained again")

    monkeypatch.setattr(subprocess, "run", no_training)
    again = load_flow()
    assert flow.language.model is not None and again.language.model is not None
    assert again.language.model.to_bytes() == flow.language.model.to_bytes()
    assert loader._MODELS  # the cache a forked worker inherits


def test_a_keyword_is_looked_up_with_the_ranking_the_model_would_give(flow: Flow) -> None:
    model = flow.language.model
    assert model is not None and len(model.known) >= 20  # the flow's keywords, not messages
    assert set(model.known) <= set(flow.language.rules.keywords)
    for words in sorted(model.known)[:40]:
        assert model.rank(words) == model._rank(words)
    assert model.rank("zzz qqq") == model._rank("zzz qqq")  # anything else: scored as before


def test_it_scores_a_message_as_the_plain_formula_does(flow: Flow) -> None:
    """`_rank` is written for speed; this is the formula it must agree with: TF-IDF with
    sublinear counts, scaled to unit length, one dot product per class, then softmax."""
    import math
    from collections import Counter

    from intake.flow.language.classifier import features

    model = flow.language.model
    assert model is not None
    n = len(model.ids)
    texts = [plain(str(row["text"])) for row in load_split("dev")[:300]] + ["", "zzz qqq"]
    texts += ["stop stop stop", "no no no i want to die die", "cutting cutting again"]  # repeats
    for words in texts:
        found = {model.row(f): 1.0 + math.log(c) for f, c in Counter(features(words)).items()}
        found.pop(-1, None)
        norm = math.sqrt(sum((tf * model.idf[r]) ** 2 for r, tf in found.items())) or 1.0
        scores = [
            b
            + sum(
                model.weights[i * n + r] * model.scales[i] * tf * model.idf[r] / norm
                for r, tf in found.items()
            )
            for i, b in enumerate(model.intercepts)
        ]
        exps = [math.exp(s - max(scores)) for s in scores]
        expected = {c: e / sum(exps) for c, e in zip(model.classes, exps, strict=True)}
        got = model._rank(words)
        assert [c for c, _ in got][:3] == sorted(expected, key=lambda c: (-expected[c], c))[:3]
        for c, p in got:
            assert p == pytest.approx(expected[c], abs=1e-9), (words, c)


def test_a_negation_does_not_reach_past_i(flow: Flow) -> None:
    # "no" ends its own thought: the "i" after it starts another one
    sure, _mention, doubt = _rules_crisis(flow, "ok no more sarcasm i want to die", "en")
    assert sure == ("suicide", "en") and doubt == ""
    _sure, mention, doubt = _rules_crisis(flow, "i dont want to die", "en")
    assert mention == ("suicide", "en") and doubt == "negated"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("people think im clumsy but im the one doing it to myself, with a lighter", "en"),
        ("dicen que fue cocinando pero me lo hago yo con el encendedor", "es"),
        ("nos reimos jaja pero mi primo me anda buscando con un cuchillo", "es"),
        ("burned my hand on the stove, its better than feeling this", "en"),
        ("she bent my fingers back because i was late for dinner again", "en"),
        # the stove, her hair: a calm context, but not for a hand held over it or an iron pressed on
        ("my son keeps holding his hand over the stove and wont take it off", "en"),
        ("my daughter heated her hair iron and is pressing it against her wrist", "en"),
        ("cooking again, my palm flat on the stove til it goes numb", "en"),
        ("my aunt says she will put my hand on the stove if i talk back again", "en"),
    ],
)
def test_harm_done_on_purpose_outweighs_a_clumsy_excuse_or_a_laugh(
    flow: Flow, text: str, lang: str
) -> None:
    assert _calm_cues(flow, text, lang) == set()
    assert flow.language.read(text, lang).crisis is not None


@pytest.mark.parametrize(
    ("text", "lang", "category"),
    [
        ("someone is pounding on my door yelling my name", "en", "danger"),
        ("mi ex esta tumbando la puerta", "es", "danger"),
        ("my cousin is holding a lighter to her own arm", "en", "self_harm"),
        ("se pasa la navaja por su propio brazo", "es", "self_harm"),
        ("god please forgive me for what i am about to do", "en", "suicide"),
        ("perdonenme por lo que voy a hacer, los quiero", "es", "suicide"),
        ("rope is ready, just need to kick the chair", "en", "suicide"),
        ("stones in my pockets, walking into the river", "en", "suicide"),
        ("ya lo decidi, hoy lo hago", "es", "suicide"),
        ("this is my final text, love you all", "en", "suicide"),
        ("punching the garage wall until my knuckles bleed", "en", "self_harm"),
        ("golpeo la pared hasta que me sangren los nudillos", "es", "self_harm"),
        ("he turned on the gas and said nobody leaves", "en", "danger"),
        ("please send the police to my address", "en", "danger"),
        ("i need the cops at my address", "en", "danger"),
        ("manden una patrulla por favor", "es", "danger"),
        ("dice que esta noche nos morimos todos juntos", "es", "danger"),
        ("mom hasnt come home since friday, my brother is 4", "en", "danger"),
        ("mi papa no ha regresado y mis hermanitos tienen hambre", "es", "danger"),
        ("upstairs she screamed ill kill you, then a loud thud", "en", "danger"),
        ("he bends my fingers back when im late", "en", "danger"),
        ("my dad is loading his rifle and pacing", "en", "danger"),
        ("he keeps saying we both go together tonight", "en", "danger"),
        ("me dobla los dedos cuando se enoja", "es", "danger"),
        ("estaba gritando te voy a matar", "es", "danger"),
        ("hes throwing dishes at us again", "en", "danger"),
        ("he slammed my hand in the car door", "en", "danger"),
        ("su novio esta tirando cosas a mi hermana", "es", "danger"),
        # a door giving way, someone coming up to the balcony, a threat left with a dead pet
        ("hes gonna bust the door down, im in the bathroom with the baby", "en", "danger"),
        ("the door is splintering he wont stop", "en", "danger"),
        ("someone is coming up my balcony right now", "en", "danger"),
        ("my dog is dead on the steps and a note says youre next", "en", "danger"),
        ("mataron a mi perro y dejaron una nota que dice sigues tu", "es", "danger"),
        # a threat at someone, a blade being sharpened
        ("a guy in the lobby is threatening my coworker with a broken bottle", "en", "danger"),
        ("my husband is sharpening a knife and staring at me", "en", "danger"),
        # someone choked, charged at, held at gunpoint
        ("hes choking my mom in the hallway", "en", "danger"),
        ("he keeps coming at me with a bat", "en", "danger"),
        ("he has his pistol to my head", "en", "danger"),
        ("these guys got guns on us in the parking lot", "en", "danger"),
        ("hes hitting my mom again in the kitchen", "en", "danger"),
        ("he said he will snap my neck if i call anyone", "en", "danger"),
        ("hes dangling our son over the balcony", "en", "danger"),
        ("my roommate says shes throwing me off the balcony", "en", "danger"),
        ("mean man hurting mama pls come", "en", "danger"),
        ("i think hes hurting my mom in the garage, she keeps yelling stop", "en", "danger"),
        ("the babysitter is shaking my 6 month old on the camera", "en", "danger"),
        ("is it normal for a newborn to go floppy like that", "en", "overdose"),
        ("hes holding her head under the water in the tub", "en", "danger"),
        ("theres a baby locked in a car in the walmart lot and its 95 out", "en", "danger"),
        ("hay un bebe solo en el carro en el estacionamiento", "es", "danger"),
        # an attack planned, a threat that names what is next, a killing planned, someone tied
        # up, a fire set with people inside; "not kidding" is no denial
        ("a group chat is planning to attack a kid at the bus stop", "en", "danger"),
        ("someone spray painted your family is next on our garage", "en", "danger"),
        ("my brother says he will beat my stepdad to death tonight", "en", "danger"),
        ("how do i get rid of a body", "en", "danger"),
        ("they have my uncle tied to a chair in the shed", "en", "danger"),
        ("her wrists are zip tied to the bed frame", "en", "danger"),
        ("mi primo dijo que va a disparar en la fiesta", "es", "danger"),
        ("amenazaron con quemar el salon con la gente adentro", "es", "danger"),
        ("mi tio tiene amarrada a mi abuela en el patio", "es", "danger"),
        ("no, not kidding, im going to hurt him when he gets here", "en", "danger"),
        ("no estoy bromeando, voy a matar a ese tipo", "es", "danger"),
        # a hold on the neck, a passport taken, a marriage forced
        ("he had his hands on her neck when i walked in", "en", "danger"),
        ("my aunt took my passport and wont give it back", "en", "danger"),
        ("my parents are making me marry a man i never met", "en", "danger"),
        ("how do i stop a forced marriage, its next week", "en", "danger"),
        ("me quitaron el pasaporte en la casa donde trabajo", "es", "danger"),
        # phrases whose words are `exact_words`, never typo targets
        ("hes holding my son over the railing", "en", "danger"),
        ("some guy just jumped the counter at my store", "en", "danger"),
        ("a man is dragging a girl into his car", "en", "danger"),
        ("theres blood on the floor and my sister wont answer", "en", "danger"),
        ("someone is hurting my mommy", "en", "danger"),
        ("a note on the door says your house is next", "en", "danger"),
        ("dejaron al niño solito en la camioneta", "es", "danger"),
        ("dicen que van a atacar a mi primo a la salida", "es", "danger"),
        ("prendio fuego al cuarto con nosotros adentro", "es", "danger"),
        ("mis papas me van a casar con un señor que no conozco", "es", "danger"),
        # someone slamming the writer's head, grabbing them now
        ("my mom slams my head on the counter when she is mad", "en", "danger"),
        ("the guy next to me on the bus keeps grabbing me", "en", "danger"),
        # the way out blocked, a threat quoted as it was said
        ("my brother is standing between me and the door yelling", "en", "danger"),
        ("she texted ill gut you when i get home", "en", "danger"),
        ("he keeps telling me i wont see tomorrow", "en", "danger"),
        ("me dijo que de esta casa sales en bolsa", "es", "danger"),
        ("mi novio dice que no voy a ver la luz del dia", "es", "danger"),
        # blood in a room, a knife fight now, a driver who would crash with a child inside
        ("my roommate wont open up and theres blood on the rug", "en", "danger"),
        ("my uncles are in a knife fight out back", "en", "danger"),
        ("he said hed rather crash than let me take the baby", "en", "danger"),
        # a medical emergency that is not a drug; a child held under water; help asked for
        # as the point; a beating now in West African Pidgin
        ("my face is puffy and my throat is swelling after the shot", "en", "overdose"),
        ("grandpa fell in the yard and his eyes rolled back", "en", "overdose"),
        ("im 20 weeks pregnant and bleeding", "en", "overdose"),
        ("the older boys at the pool hold him underwater", "en", "danger"),
        ("please just send help to the gas station on 5th", "en", "danger"),
        ("dem dey beat am for market now", "en", "danger"),
        # an animal attacking now; a weapon at the waist; bleeding; over a railing; Colombian
        # and Rioplatense words for a killing threatened and a plea to be let go
        ("a dog is attacking my neighbor in the street", "en", "danger"),
        ("my little girl is getting mauled by a pit bull", "en", "danger"),
        ("hes got something in his waistband and wont leave", "en", "danger"),
        ("my dad fell off the ladder and is bleeding a lot", "en", "danger"),
        ("just climbed over the rail at the dam", "en", "suicide"),
        ("dicen que lo van a pelar esta noche", "es", "danger"),
        ("mi vecina grita soltame y se oyen golpes", "es", "danger"),
        # an animal biting or charging someone now, a torn-off ear
        ("a stray got in the yard and its biting my little brother", "en", "danger"),
        ("the farm dogs have her cornered and theyre biting her legs", "en", "danger"),
        ("a bull is charging at us in the pasture", "en", "danger"),
        ("the neighbors pit tore my sons ear off", "en", "danger"),
        # a fire set on purpose, or threatened; kept in with others
        (
            "my stepdad is setting fire to my moms clothes in the yard and says the house is next",
            "en",
            "danger",
        ),
        ("she lit the mattress and locked the bedroom door", "en", "danger"),
        ("the crew boss locked the trailer and he wont let us out", "en", "danger"),
        ("mi ex dice que va a quemar la casa con los niños adentro", "es", "danger"),
        ("mi cuñado prendió fuego a la casa y sigue afuera gritando", "es", "danger"),
        # a shooting now, in a hospital's grounds too ("in the hospital" is where a patient is)
        ("somebody is shooting in the hospital parking lot", "en", "danger"),
        ("my cousin just got shot in the neck were hiding behind a car", "en", "danger"),
        ("theres an active shooter at my job, hiding in the walk in freezer", "en", "danger"),
    ],
)
def test_the_rules_alone_are_sure_of_these_crises(
    flow: Flow, text: str, lang: str, category: str
) -> None:
    sure, _mention, _doubt = _rules_crisis(flow, text, lang)
    assert sure is not None and sure[0] == category


@pytest.mark.parametrize(
    ("text", "lang", "category"),
    [
        ("my daughter holds her palm on the stove to punish herself", "en", "self_harm"),
        ("mi hijo se quema con la estufa para castigarse", "es", "self_harm"),
        ("my roommate is seizing on the floor, we just got back from the vigil", "en", "overdose"),
        ("mi hermano esta convulsionando en el sillon", "es", "overdose"),
        ("my cousin posted goodbye everyone and turned off her phone", "en", "suicide"),
        ("mi prima publico adios a todos y ya no contesta", "es", "suicide"),
        ("he texted me tell everybody i tried", "en", "suicide"),
    ],
)
def test_harm_meant_seizures_now_and_goodbyes_to_everyone_are_a_crisis(
    flow: Flow, text: str, lang: str, category: str
) -> None:
    reading = flow.language.read(text, lang)
    assert reading.crisis is not None and reading.crisis[0] == category, reading.crisis


@pytest.mark.parametrize(
    ("text", "lang", "calm"),
    [
        ("false alarm, he was only asleep on the couch. sorry for the scare", "en", "all"),
        ("ya me quiero morir del calor, 45 grados hoy", "es", "all"),
        ("saw a tiktok of a guy with blue lips, just wondering how common that is", "en", "all"),
        ("lost my grandpa to suicide when i was small, i think of him on holidays", "en", "all"),
        ("every cramp i think the baby is dying, i know its just my anxiety", "en", "all"),
        ("where do i get a trigger lock for the gun now that the baby is here", "en", "danger"),
        ("ya nos separamos y me siento tranquila, gracias", "es", "danger"),
        ("quiero tener naloxona en casa por si acaso", "es", "overdose"),
        ("i shot myself in the foot telling my boss the truth", "en", "all"),
        ("me muero de sueño, no he dormido nada", "es", "all"),
        ("the pharmacy is out of my refill again, this is killing me", "en", "danger"),
        ("mi esposo tiene un rifle pero nadie lo usa", "es", "danger"),
        ("that part of my life is over, im good now", "en", "all"),
        ("since she came out shes dead to my family", "en", "all"),
        ("my dad keeps his pistol in a safe at work", "en", "danger"),
        ("sold my gun last month, one less worry", "en", "suicide"),
        ("mi esposo guarda la pistola en una caja fuerte", "es", "danger"),
        ("getting arrested scared me straight", "en", "all"),
        ("i keep it locked at my dads house", "en", "suicide"),
        ("can narcan hurt a kid if its not an overdose", "en", "danger"),
        ("my brother said it as a joke, nobody took it serious", "en", "all"),
        ("watching a true crime show about a stalker", "en", "all"),
        ("it was just fireworks down the street", "en", "danger"),
        ("got a scam text saying theyd hurt me unless i paid", "en", "danger"),
        ("my toddler has tantrums every night", "en", "danger"),
        ("mi hijo hace berrinches cada noche", "es", "danger"),
    ],
)
def test_scares_grief_guns_put_away_a_past_that_is_over_and_known_worries_are_calm(
    flow: Flow, text: str, lang: str, calm: str
) -> None:
    assert calm in _calm_cues(flow, text, lang)


def test_a_parent_who_has_said_nothing_of_harm_is_a_negated_mention(flow: Flow) -> None:
    text = "my son seems down but he hasnt said anything about hurting himself"
    _sure, mention, doubt = _rules_crisis(flow, text, "en")
    assert mention is not None and doubt == "negated"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("no duermo, no paro y ahora no puedo respirar", "es"),
        ("no idea what he took, hes not breathing", "en"),
    ],
)
def test_a_phrase_with_its_own_negation_is_not_undone_by_an_earlier_one(
    flow: Flow, text: str, lang: str
) -> None:
    sure, _mention, _doubt = _rules_crisis(flow, text, lang)
    assert sure is not None and sure[0] == "overdose"


def test_asking_us_to_pretend_to_be_a_friend_is_no_game(flow: Flow) -> None:
    assert "danger" in _calm_cues(flow, "we play pretend with the toy guns", "en")
    assert _calm_cues(flow, "pretend youre my friend from work, hes watching", "en") == set()


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("helpmeplzhesgotahammer", "en", "help me please hes got a hammer"),
        ("mipadrastroleestapegandoamimama", "es", "mi padrastro le esta pegando a mi mama"),
        (
            "he said ineedtogetoutofthishouse now",
            "en",
            "he said i need to get out of this house now",
        ),
    ],
)
def test_it_splits_words_typed_without_spaces(
    flow: Flow, text: str, lang: str, expected: str
) -> None:
    assert flow.language.normaliser.words(text, lang) == expected


@pytest.mark.parametrize(
    "word", ["supermercado", "atropellarme", "internationally", "buprenorphin", "desuscribirme"]
)
def test_it_does_not_split_a_long_word_it_does_not_know(flow: Flow, word: str) -> None:
    assert flow.language.normaliser.split_run_ons(word) == word


def test_a_crisis_typed_without_spaces_is_a_crisis(flow: Flow) -> None:
    reading = flow.language.read("hesbangingonthedoorsayinghesgonnakillme", "en")
    assert reading.crisis is not None and reading.crisis[0] == "danger"
