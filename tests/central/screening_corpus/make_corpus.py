"""Make the screening's false-positive corpus: ordinary letters in English and
Spanish (letters.txt, one a line) and a 10,000-term keyword list (keywords.txt,
``language<TAB>term``), from the word banks below with a fixed seed, so that
every run makes the same text. tests/central/test_screening_corpus.py makes it
as it runs; to read it, write the two files (not committed) with

    python -m tests.central.screening_corpus.make_corpus
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261204
LETTERS = 3000
TERMS = 10_000

# -- the keyword list -------------------------------------------------------------------

EN_DRUGS = (
    "cocaine", "crack cocaine", "crack rock", "heroin", "black tar", "fentanyl", "fent",
    "meth", "methamphetamine", "crystal meth", "marijuana", "kush", "reefer", "dope", "smack",
    "oxy", "oxycontin", "oxycodone", "percocet", "percs", "roxies", "xanax", "xanax bars",
    "molly", "ecstasy", "mdma", "lsd", "acid tabs", "shrooms", "k2", "spice", "suboxone",
    "suboxone strips", "subutex", "buprenorphine", "methadone", "tramadol", "codeine",
    "promethazine", "dilaudid", "morphine", "ketamine", "pcp", "angel dust", "wet sticks",
    "blunt", "joint", "bong", "crackhead", "tweaker", "eight ball", "yayo", "yeyo", "coke",
    "snow white", "china white", "white girl", "boy and girl", "blue pills", "m30s",
    "pressed pills",
    "dab pen", "thc cart", "wax pen", "edibles", "hooch", "pruno", "jailhouse wine",
)
EN_WEAPONS = (
    "shank", "shiv", "sharpened toothbrush", "razor blade", "box cutter", "switchblade",
    "pistol", "handgun", "glock", "nine millimeter", "revolver", "shotgun", "rifle", "ak47",
    "ar15", "ammo", "bullets", "burner gun", "strap", "blade", "machete", "brass knuckles",
    "lock in a sock", "zip gun",
)
EN_CONTRABAND = (
    "burner phone", "cellphone", "cell phone", "sim card", "phone charger", "green dot card",
    "cash app", "moneygram code", "western union code", "prepaid card", "tobacco", "cigarettes",
    "rolling papers", "lighter", "handcuff key", "drone drop", "the package", "the stuff",
    "the work", "the product", "contraband", "dirty urine",
)
EN_GANGS = (
    "bloods", "crips", "latin kings", "surenos", "nortenos", "ms13", "mara salvatrucha",
    "aryan brotherhood", "mexican mafia", "black guerrilla family", "nuestra familia",
    "gangster disciples", "vice lords", "hells angels", "18th street", "barrio azteca",
    "texas syndicate", "tango blast", "black p stones", "almighty latin kings",
)
EN_VIOLENCE_VERBS = (
    "kill", "stab", "shoot", "smash", "jump", "beat down", "take out", "poke", "rush", "merk",
    "murk", "dome", "cap", "whack", "shank", "hit", "bust", "body", "slump", "wet up",
)
EN_TARGETS = (
    "him", "her", "them", "that snitch", "the rat", "the co", "the guard", "the cop",
    "my cellie", "the chomo", "the informant", "the witness", "the judge", "the da",
)
EN_ESCAPE = (
    "escape", "escape plan", "break out", "breakout", "over the wall", "hit the fence",
    "cut the fence", "jump the fence", "dig a tunnel", "tunnel out", "getaway car",
    "go on the run", "fake id", "new identity", "bust out", "leave on a transfer",
    "hostage", "take a hostage", "riot", "start a riot", "lockdown plan", "kite",
    "green light", "put a hit", "hit list", "snitch", "snitches", "rat him out", "paperwork",
    "three way call", "drop spot", "meet at the fence", "stash spot", "go loud",
)
EN_VERBS = (
    "bring", "send", "sell", "buy", "move", "smuggle", "hide", "stash", "slide", "sneak in",
    "pass", "push", "cop", "deliver", "mail", "cook", "bag up", "flip", "re up", "front me",
)
EN_QUANTITIES = ("ounce of", "gram of", "half ounce of", "quarter of", "pound of", "kilo of",
                 "zip of", "eighth of", "brick of", "bag of", "pack of", "sheet of")
EN_AFTER = ("for sale", "plug", "connect", "stash", "money", "dealer", "drop", "run", "deal",
            "supply", "pickup", "order")
EN_HIDING = ("in the card", "in the book", "under the stamp", "in the envelope", "in the shoe",
             "in the sock", "in my mattress", "in the vent", "in the pillow", "in the locker",
             "in the drawing", "behind the label", "in the diaper", "in the tablet")

ES_DRUGS = (
    "cocaína", "coca", "perico", "piedra de crack", "heroína", "chiva negra", "goma", "fentanilo",
    "metanfetamina", "cristal", "vidrio", "marihuana", "mota", "yerba", "hierba", "porro",
    "toque", "churro de mota", "pastillas de fentanilo", "tachas", "éxtasis", "ácido",
    "hongos", "droga", "drogas", "polvo blanco", "grapa", "bolsita", "kilo de coca",
    "fentanilo rosa", "pastillas azules", "suboxona", "tiras de suboxona",
)
ES_WEAPONS = (
    "pistola", "cuete", "fierro", "arma", "navaja", "cuchillo", "filero", "punta", "puñal",
    "machete", "escuadra", "cuerno de chivo", "balas", "cartuchos", "rifle", "escopeta",
)
ES_CONTRABAND = (
    "teléfono desechable", "celular", "chip", "cargador", "tarjeta prepagada", "giro",
    "depósito", "cigarros", "tabaco", "el paquete", "la mercancía", "el encargo", "el jale",
)
ES_GANGS = (
    "la eme", "sureños", "norteños", "mara salvatrucha", "barrio 18", "cártel", "sicario",
    "pandilla", "pandillero", "los zetas", "cártel de sinaloa", "jalisco nueva generación",
    "la familia michoacana", "tango orejón",
)
ES_VIOLENCE_VERBS = (
    "matar", "apuñalar", "picar", "golpear", "balacear", "madrear", "levantar", "quebrar",
    "ejecutar", "darle piso", "tronar", "chingar", "plomear", "rafaguear",
)
ES_TARGETS = ("a ese", "al chivato", "al soplón", "a la rata", "al guardia", "al custodio",
              "al policía", "al testigo", "al juez", "a mi compa de celda")
ES_ESCAPE = (
    "fuga", "fugarse", "escaparse", "plan de fuga", "brincar la barda", "saltar el muro",
    "cortar la cerca", "cavar un túnel", "túnel", "carro de escape", "identificación falsa",
    "motín", "rehén", "tomar un rehén", "luz verde", "chivato", "soplón", "punto de entrega",
    "llamada de tres", "la entrega", "el punto", "aventar el paquete", "el dron",
)
ES_VERBS = (
    "traer", "mandar", "vender", "comprar", "pasar", "meter", "esconder", "mover", "conseguir",
    "entregar", "aventar", "guardar", "cruzar", "subir", "bajar", "cocinar", "empacar",
)
ES_QUANTITIES = ("una onza de", "un gramo de", "medio kilo de", "un kilo de", "una libra de",
                 "una bolsa de", "un paquete de", "una grapa de")
ES_AFTER = ("en venta", "barata", "para vender", "del patrón", "de la plaza")
ES_HIDING = ("en la carta", "en el libro", "bajo la estampilla", "en el sobre", "en el zapato",
             "en el calcetín", "en el colchón", "en la ventila", "en la almohada",
             "en la tarjeta", "en el dibujo", "en el pañal")


def _keywords(rng: random.Random) -> list[tuple[str, str]]:
    en: list[str] = [*EN_DRUGS, *EN_WEAPONS, *EN_CONTRABAND, *EN_GANGS, *EN_ESCAPE]
    objects = [*EN_DRUGS, *EN_WEAPONS, *EN_CONTRABAND]
    en += [f"{verb} {obj}" for verb in EN_VERBS for obj in objects]
    en += [f"{verb} the {obj}" for verb in EN_VERBS for obj in EN_DRUGS + EN_WEAPONS]
    en += [f"{verb} some {drug}" for verb in EN_VERBS[:12] for drug in EN_DRUGS]
    en += [f"{verb} {target}" for verb in EN_VIOLENCE_VERBS for target in EN_TARGETS]
    en += [f"{qty} {drug}" for qty in EN_QUANTITIES for drug in EN_DRUGS]
    en += [f"{drug} {after}" for drug in EN_DRUGS for after in EN_AFTER]
    en += [f"{obj} {where}" for obj in EN_DRUGS + EN_WEAPONS[:8] for where in EN_HIDING]
    en += [f"{gang} {what}" for gang in EN_GANGS
           for what in ("member", "hit", "set", "territory", "for life", "shot caller")]
    es: list[str] = [*ES_DRUGS, *ES_WEAPONS, *ES_CONTRABAND, *ES_GANGS, *ES_ESCAPE]
    es_objects = [*ES_DRUGS, *ES_WEAPONS, *ES_CONTRABAND]
    es += [f"{verb} {obj}" for verb in ES_VERBS for obj in es_objects]
    es += [f"{verb} {target}" for verb in ES_VIOLENCE_VERBS for target in ES_TARGETS]
    es += [f"{qty} {drug}" for qty in ES_QUANTITIES for drug in ES_DRUGS]
    es += [f"{drug} {after}" for drug in ES_DRUGS for after in ES_AFTER]
    es += [f"{obj} {where}" for obj in ES_DRUGS + ES_WEAPONS[:6] for where in ES_HIDING]
    terms = {("en", t): None for t in en}
    terms.update({("es", t): None for t in es})
    listed = list(terms)
    rng.shuffle(listed)
    if len(listed) < TERMS:
        raise SystemExit(f"the word banks make only {len(listed)} terms")
    return sorted(listed[:TERMS])


# -- the letters ------------------------------------------------------------------------

NAMES = ("Marcus", "Lucía", "Tony", "Keisha", "Jamal", "Rosa", "Derek", "Ana", "Luis", "Tanya",
         "Miguel", "Brenda", "DeShawn", "Carmen", "Eddie", "Maria", "Ray", "Sofía", "Chris",
         "Yolanda", "Andre", "Gabriela", "Mike", "Linda", "José", "Tasha")
EN_OPEN = ("Hi {n},", "Hey baby,", "Dear {n},", "Hello son,", "Hi daddy!", "Hey bro,",
           "Good morning {n},", "Hi mom,", "My love,")
EN_CLOSE = ("Love you always.", "Stay strong, we miss you.", "Write back soon.", "Love, Mom",
            "Talk to you Sunday.", "God bless you.", "Keep your head up.", "XOXO", "Miss you!")
EN_TOPICS = {
    "family": (
        "The kids are doing good and {n} lost a tooth yesterday.",
        "Grandma turned {age} last week and we had cake at Aunt Linda's house.",
        "Your sister had the baby, a little girl, {lbs} pounds {oz} ounces.",
        "We went to church on Sunday and everybody asked about you.",
        "The dog got out again and ran all the way to the park.",
        "Uncle Ray is fixing the truck in the driveway this weekend.",
        "{n} says hi and wants you to know she drew you a picture.",
        "We had a snow day so the kids stayed home and watched movies.",
        "I planted tomatoes and peppers in the garden, the weeds are terrible this year.",
        "The wedding is set for June and your cousin wants you there in spirit.",
        "Your nephew started walking, he runs everywhere now.",
        "We moved to the new apartment, it has two bedrooms and a little yard.",
        "Mom made your favorite enchiladas and we saved a plate in your honor.",
        "The windshield got a crack from a rock on the highway.",
        "There is a new ice cream shop by the school and the kids love it.",
    ),
    "health": (
        "The doctor says my blood pressure is better with the new medicine.",
        "I am taking my pills every morning like they told me.",
        "Grandpa had his surgery and he is home resting now.",
        "I went to the pharmacy to pick up the prescription, it was expensive.",
        "The kids all had the flu but they are feeling better.",
        "My back is still hurting so I go to physical therapy twice a week.",
        "The dentist said {n} needs braces next year.",
        "I started walking every night to lose some weight.",
        "Aunt Rosa is in the hospital but the nurses are taking good care of her.",
        "I got my flu shot at the drugstore on Main Street.",
    ),
    "money": (
        "I put ${amt} on your books this morning.",
        "I sent the money through the kiosk, let me know when it shows up.",
        "Rent went up again so things are tight this month.",
        "I got paid Friday so I will send a little more next week.",
        "The light bill was ${amt} this month, can you believe it.",
        "Your tax refund finally came in the mail.",
        "I bought you {k} stamps so you can write more.",
        "We are saving up for a car, we have ${amt} so far.",
    ),
    "school": (
        "{n} made the honor roll again, we are so proud.",
        "Report cards came out and he got a B in math.",
        "She has a science project due Friday about volcanoes.",
        "Soccer practice is every Tuesday and Thursday after class.",
        "The teacher says {n} reads above grade level.",
        "Graduation is May {day} and we will send pictures.",
        "He wants to play trumpet in the band next year.",
        "They had a field trip to the museum and the aquarium.",
    ),
    "court": (
        "Your hearing is on {month} {day}, the lawyer said to be ready.",
        "The public defender called and said the appeal was filed.",
        "I talked to the parole officer about the address for your release.",
        "The judge pushed the court date back to {month}.",
        "Your lawyer wants you to call her office on Monday.",
        "The parole board meets in {month}, we wrote letters for you.",
        "I sent the paperwork the caseworker asked for.",
    ),
    "work": (
        "I got a job at the warehouse, the shift starts at {hour}.",
        "They gave me overtime this week so I am tired.",
        "My boss says I might get promoted to supervisor.",
        "I am driving for the delivery company now, lots of miles.",
        "The restaurant is hiring, they said you can apply when you get out.",
        "I finished my CDL class and passed the test.",
    ),
    "sports": (
        "The Cowboys won on Sunday, you would have loved that game.",
        "The Lakers lost again, I can't watch anymore.",
        "{n} hit a home run at his little league game.",
        "We watched the fight on Saturday night at Tony's house.",
        "March Madness started and my bracket is already busted.",
        "The kids are doing karate now, she got her yellow belt.",
        "He scored two goals in the soccer game and the coach said he played great.",
    ),
}
ES_OPEN = ("Hola {n},", "Querido hijo,", "Mi amor,", "Hola papá,", "Querida {n},", "Hola mijo,",
           "Buenos días {n},")
ES_CLOSE = ("Te queremos mucho.", "Dios te bendiga.", "Escríbeme pronto.", "Un abrazo fuerte.",
            "Con cariño, tu mamá.", "Te extrañamos.", "Échale ganas.")
ES_TOPICS = {
    "family": (
        "Los niños están bien y {n} ya perdió un diente.",
        "La abuela cumplió {age} años y hicimos pastel en casa de tu tía.",
        "Tu hermana tuvo al bebé, una niña muy bonita.",
        "Fuimos a misa el domingo y todos preguntaron por ti.",
        "El perro se salió otra vez y corrió hasta el parque.",
        "Tu tío está arreglando la troca este fin de semana.",
        "Sembré tomates y chiles en el jardín.",
        "La boda es en junio y tu prima te manda saludos.",
        "Nos cambiamos al departamento nuevo, tiene dos recámaras.",
        "Tu mamá hizo enchiladas y todos nos acordamos de ti.",
        "El tráfico estaba terrible en la carretera pero llegamos bien.",
        "Tu sobrino ya camina y corre por toda la casa.",
    ),
    "health": (
        "El doctor dice que la presión está mejor con la medicina nueva.",
        "Estoy tomando mis pastillas todas las mañanas.",
        "Tu abuelo salió de la operación y ya está en casa.",
        "Fui a la farmacia por la receta y estaba carísima.",
        "Los niños tuvieron gripa pero ya están mejor.",
        "Me sigue doliendo la espalda y voy a terapia dos veces por semana.",
        "La tía Rosa está en el hospital pero la están cuidando bien.",
    ),
    "money": (
        "Te deposité ${amt} en tu cuenta esta mañana.",
        "Te mandé dinero por el kiosco, avísame cuando te llegue.",
        "Subió la renta otra vez y estamos apretados este mes.",
        "Me pagaron el viernes y la otra semana te mando más.",
        "Te compré {k} estampillas para que escribas más seguido.",
        "Estamos ahorrando para un carro, ya llevamos ${amt}.",
    ),
    "school": (
        "{n} salió en el cuadro de honor otra vez.",
        "Le dieron las calificaciones y sacó nueve en matemáticas.",
        "Tiene un proyecto de ciencias para el viernes sobre los volcanes.",
        "La práctica de fútbol es los martes y jueves después de clases.",
        "La graduación es el {day} de mayo y te mandamos fotos.",
        "Fueron de excursión al museo y al acuario.",
    ),
    "court": (
        "Tu audiencia es el {day} de {month_es}, el abogado dice que estés listo.",
        "La defensora pública llamó y dijo que ya metieron la apelación.",
        "Hablé con tu oficial de libertad condicional sobre la dirección.",
        "El juez cambió la fecha de la corte para {month_es}.",
        "Mandé los papeles que pidió la trabajadora social.",
    ),
    "work": (
        "Conseguí trabajo en la bodega, el turno empieza a las {hour}.",
        "Me dieron horas extra esta semana y estoy cansada.",
        "Mi jefe dice que a lo mejor me suben a supervisora.",
        "En el restaurante están contratando, dicen que puedes aplicar cuando salgas.",
    ),
    "sports": (
        "Las Chivas ganaron el domingo, te hubiera encantado el partido.",
        "{n} metió dos goles en el partido de fútbol.",
        "Vimos la pelea el sábado en la casa de tu compadre.",
        "El América perdió otra vez, ya ni lo quiero ver.",
        "Los niños están en karate y la niña ya tiene cinta amarilla.",
    ),
}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
MONTHS_ES = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
             "septiembre", "octubre", "noviembre", "diciembre")


def _fill(rng: random.Random, sentence: str) -> str:
    return sentence.format(
        n=rng.choice(NAMES), age=rng.randint(60, 95), lbs=rng.randint(5, 9),
        oz=rng.randint(0, 15), amt=rng.choice((20, 25, 40, 50, 75, 100, 150, 200)),
        k=rng.choice((10, 20, 35, 50)), day=rng.randint(1, 28), month=rng.choice(MONTHS),
        month_es=rng.choice(MONTHS_ES), hour=rng.choice(("6 am", "7:30", "2 pm", "10 pm")))


def _letter(rng: random.Random, spanish: bool) -> str:
    opener, closer, topics = (ES_OPEN, ES_CLOSE, ES_TOPICS) if spanish \
        else (EN_OPEN, EN_CLOSE, EN_TOPICS)
    chosen = rng.sample(sorted(topics), rng.randint(2, 4))
    body = [_fill(rng, rng.choice(topics[topic])) for topic in chosen
            for _ in range(rng.randint(1, 2))]
    return " ".join([_fill(rng, rng.choice(opener)), *dict.fromkeys(body),
                     rng.choice(closer)])


def make(seed: int = SEED) -> tuple[str, str]:
    """The text of letters.txt and of keywords.txt."""
    rng = random.Random(seed)
    keywords = "".join(f"{language}\t{term}\n" for language, term in _keywords(rng))
    letters = "".join(_letter(rng, rng.random() < 0.35) + "\n" for _ in range(LETTERS))
    return letters, keywords


def main() -> None:
    letters, keywords = make()
    (HERE / "letters.txt").write_text(letters, encoding="utf-8")
    (HERE / "keywords.txt").write_text(keywords, encoding="utf-8")


if __name__ == "__main__":
    main()
