"""The classifier's evidence: words and shapes that point to each task type, with weights.

Words are matched in the prose of a message (code, diffs, traces and transcripts taken out);
shapes (a diff, a stack trace, a transcript, many rows) are detected on the whole text.
English, German, French and Spanish. Weights are small integers on purpose: a reader should
be able to add up why a prompt went where it went.
"""

from __future__ import annotations

import re

Signal = tuple[re.Pattern[str], float]


def _s(pattern: str, weight: float) -> Signal:
    # Matched against lower-cased prose: much faster than re.IGNORECASE on long alternations.
    return re.compile(pattern), weight


CAPTURE = "Quick capture / filing"
MEETING = "Meeting summary"
REASONING = "Complex reasoning"
CODEGEN = "Code generation"
REVIEW = "Code review"
DRAFTING = "Content drafting"
RESEARCH = "Research / analysis"
CLASSIFY = "Classification / routing"
BULK = "Bulk operations"
SECURITY = "Security audit"
VIBE = "Vibe coding (interactive)"
DEBUG = "Debugging / tracing"
GENERAL = "General agent work"

WORDS: dict[str, tuple[Signal, ...]] = {
    CAPTURE: (
        _s(
            r"\b(?:park (?:it|this)|stick (?:it|this) in|ideas? list|my snippets|read (?:it )?later|lo leo luego|para luego|pour plus tard|für später|guárda(?:me|lo)?|speicher(?:e)? (?:das|dies|mir|den link)|merk(?:e)? dir)\b",
            3,
        ),
        _s(
            r"\b(?:todo list|to-do list|on my list|ma liste|meine liste|mi lista|à noter|zum merken|para recordar|note à moi)\b",
            3,
        ),
        _s(r"^\s*bookmark\b|→\s*[\w-]+\s*$", 3),
        _s(
            r"^\s*(?:todo|to-do|note|idea|reminder|remember|bookmark|capture|link|memo)\b\s*[:\-]",
            3,
        ),
        _s(r"\b(?:jot|note)\s+(?:this|that|it)?\s*down\b|\bjot\b", 3),
        _s(
            r"\b(?:save|file|store|log|stash|capture|archive|bookmark)\s+(?:this|that|it|these)\b",
            2.5,
        ),
        _s(
            r"\b(?:add|put)\s+(?:this|that|it)?\s*(?:to|on|in)\s+(?:my\s+)?(?:todo|to-do|list|notes?|inbox|backlog|reading list)",
            3,
        ),
        _s(r"\bremind me\b|\bremember (?:that|to)\b|\bdon'?t let me forget\b", 2.5),
        _s(
            r"\b(?:quick|short)\s+note\b|\bfor later\b|\bfile (?:it )?under\b|\bnote to self\b", 2.5
        ),
        _s(
            r"\b(?:notiz|notiere|merk(?:e)? dir|leg(?:e)? (?:das|es) ab|erinnere mich|aufschreiben)\b",
            3,
        ),
        _s(
            r"\b(?:note(?:r)?|noter ça|prends note|rappelle-moi|enregistre|garde ça|classe(?:r)? (?:ça|ce lien))\b",
            2,
        ),
        _s(
            r"\b(?:anota|apunta|guarda (?:esto|este)|recuérdame|recuerdame|archiva|nota rápida|toma nota)\b",
            3,
        ),
        _s(r"^\s*(?:idee|idée|idea)\s*:", 2),
    ),
    MEETING: (
        _s(r"\bcompte[- ]rendu\b|\bpoint hebdo\b|\bweekly sync\b|\bresumen de la reunión\b", 3),
        _s(
            r"\b(?:who signed up for what|who owns what|who took what|who'?s doing what|wer macht was|qui fait quoi|quién hace qué|design review notes|recap of the)\b",
            3,
        ),
        _s(
            r"\b(?:what did we (?:actually )?decide|standup notes|meeting notes|jour fixe|notes from (?:the|our|today)|who'?s blocked)\b",
            3,
        ),
        _s(r"\b(?:fass|fasse)\b.{0,40}\bzusammen\b", 2),
        _s(
            r"\b(?:meeting|standup|stand-up|daily|sync|retro|retrospective|1:1|one-on-one|all-hands|kickoff|call)\b",
            1.5,
        ),
        _s(r"\b(?:minutes|action items?|takeaways|recap|debrief)\b", 2),
        _s(r"\btranscript\b", 2),
        _s(
            r"\b(?:summar|recap|sum up|tl;?dr)\w*\b.{0,60}\b(?:meeting|standup|stand-up|call|sync|retro|discussion|transcript|1:1)",
            3,
        ),
        _s(r"\b(?:besprechung|sitzung|protokoll|gesprächsnotizen)\b", 1.5),
        _s(r"\b(?:réunion|compte[- ]rendu|procès-verbal|points d'action)\b", 2.5),
        _s(r"\b(?:reunión|reunion|acta|minuta|llamada)\b", 2),
    ),
    REASONING: (
        _s(
            r"^\W*[\w.+#-]+(?: [\w.+#-]+)? (?:oder|or|ou|o) [\w.+#-]+(?: [\w.+#-]+){0,3} (?:für|for|pour|para)\b",
            2.5,
        ),
        _s(
            r"\b(?:énigme|enigma|riddle|rätsel|acertijo|brain ?teaser|expected number|derivation|intuition|plan (?:para|for|to|pour|the|our|a)|planifie\w*|planea\w*|game theory|rational|prioriti[sz]\w*|priorisier\w*|realistisch|welche entscheidung|which would you pick|freemium or|how would you approach)\b",
            2.5,
        ),
        _s(
            r"\b(?:probability|expected (?:value|max|load)|derive|upper bound|lower bound|capacity planning|how many (?:nodes|servers|replicas|instances|workers)|options on the table|build vs\.? buy|or polyrepo|is (?:\w+ ){0,3}(?:even )?the right move|np-hard|data model|step back|separate \w+ per|vs\.? shared)\b",
            2.5,
        ),
        _s(r"\(a\).{0,200}\(b\)", 1.5),
        _s(r"\bshould (?:we|i)\b", 2),
        _s(r"\btrade-?offs?\b|\bpros and cons\b|\bweigh\b", 2),
        _s(r"\b(?:decide|decision|choose between|which approach|which option|go with)\b", 1.5),
        _s(
            r"\barchitect(?:ure)?\b|\bsystem design\b|\bdesign (?:a|the|our) (?:system|service|architecture)",
            1.5,
        ),
        _s(r"\b(?:plan|roadmap|strategy|strategic|prioriti[sz]e)\b", 1.2),
        _s(r"\b(?:prove|proof|theorem|puzzle|riddle|logic|paradox|induction|invariant)\b", 2),
        _s(
            r"\bthink (?:this )?through\b|\breason (?:about|through)\b|\bstep by step\b|\bwhat would happen if\b",
            1.5,
        ),
        _s(r"\b(?:migrate|migration|rewrite|monolith|microservices?|build vs\.? buy)\b", 1),
        _s(
            r"\b(?:sollten wir|abwägung|entscheidung|strategie|architektur|vor- und nachteile)\b", 2
        ),
        _s(
            r"\b(?:devrions-nous|devrait-on|compromis|stratégie|architecture|avantages et inconvénients)\b",
            2,
        ),
        _s(
            r"\b(?:deberíamos|deberiamos|estrategia|arquitectura|ventajas y desventajas|decidir)\b",
            2,
        ),
    ),
    CODEGEN: (
        _s(
            r"\b(?:convert (?:this|it) to|port (?:this|it) to|rewrite (?:this|it) in|translate (?:this|the) (?:code|script|function) (?:to|into)|konvertier\w* (?:das|es) (?:in|nach)|traduis ce (?:code|script)|pasa (?:esto|este código) a)\b",
            3,
        ),
        _s(
            r"^\W*(?:python|py|go|golang|rust|java|ts|typescript|js|javascript|node|bash|sh|zsh|sql|postgres|mysql|kotlin|c\+\+|c#|ruby|php|swift|react|vue|svelte|django|fastapi|terraform|k8s|kubernetes)\b[^\n]{0,30}?[:—–-]",
            2.5,
        ),
        _s(
            r"^[^\n]{0,40}?\b(?:function|script|regex|regexp|dockerfile|makefile|manifests?|helm chart|workflow|sql|query|hook|component|endpoint|handler|cli|migration|schema|pydantic|models|server block|nginx|terraform|unit tests?|interface|struct|fn|helper|decorator|parser|lambda|crontab|systemd unit|abfrage|requête|consulta|función|fonction|skript)\b",
            2.5,
        ),
        _s(
            r"\b(?:need|want|give me|gimme|write me|generate)\s+(?:a|an|the|some)?\s*(?:\w+\s+){0,2}(?:helper|function|script|class|regex|query|component|hook|test)s?\b",
            2,
        ),
        _s(
            r"\bwith (?:tests|type hints|docstrings|unit tests)\b|\bno (?:lodash|dependencies|deps)\b|\bnamed groups\b",
            1.5,
        ),
        _s(
            r"\b(?:write|create|implement|generate|build|code|make)\b.{0,40}\b(?:function|script|class|module|method|program|cli|endpoint|api|handler|component|test|tests|unit test|query|regex|dockerfile|makefile|migration|parser|decorator|hook|workflow|yaml|config)\b",
            3,
        ),
        _s(
            r"\b(?:in|using) (?:python|go|golang|rust|typescript|javascript|java|kotlin|c\+\+|c#|bash|sql|ruby|php|swift)\b",
            1,
        ),
        _s(
            r"\b(?:function|script|class|regex|sql query|bash one-liner|one-liner) (?:that|which|to)\b",
            2,
        ),
        _s(r"\bboilerplate\b|\bscaffold\b|\bsnippet\b", 1.5),
        _s(
            r"\b(?:schreib|erstelle|implementiere|generiere)\w*\b.{0,40}\b(?:funktion|skript|klasse|test|abfrage|programm)",
            3,
        ),
        _s(
            r"\b(?:écris|crée|implémente|génère|code)\w*\b.{0,40}\b(?:fonction|script|classe|test|requête|programme)",
            3,
        ),
        _s(
            r"\b(?:escribe|crea|implementa|genera|programa)\w*\b.{0,40}\b(?:función|funcion|script|clase|test|consulta|programa)",
            3,
        ),
    ),
    REVIEW: (
        _s(
            r"\b(?:any feedback on|feedback on this|feels clunky|can this be improved|improve this (?:code|function)|is this (?:good|clean|ok) code)\b",
            3,
        ),
        _s(
            r"\b(?:is this idiomatic|any (?:perf|performance) issues|anything you'?d change|does this look right|look (?:ok|good|right)|another pass|how would you improve|could this be (?:cleaner|simpler)|second pair of eyes|what would you change)\b",
            3,
        ),
        _s(
            r"\breview\b(?<!lit review)(?<!literature review)(?<!performance review)(?<!design review)(?<!annual review)(?! (?:of the literature|papers|meeting))|\bcode review\b",
            3,
        ),
        _s(r"\b(?:pr|pull request|merge request|diff|patch|changeset|commit)\b", 1.5),
        _s(
            r"\b(?:lgtm|nitpicks?|feedback on (?:this|my) (?:code|pr|diff|function|implementation))\b",
            2.5,
        ),
        _s(
            r"\bwhat do you think (?:of|about) (?:this|my) (?:code|function|implementation|class|approach)\b",
            2.5,
        ),
        _s(
            r"\b(?:look over|critique|sanity[- ]check|any issues with|anything wrong with) (?:this|my)\b",
            2,
        ),
        _s(
            r"\b(?:code-?review\w*|begutacht\w*|schau (?:dir )?(?:den|diesen|meinen) (?:code|pr|diff))\b",
            2.5,
        ),
        _s(r"\b(?:relis|relecture|revue de code|vérifie ce code)\w*\b", 2.5),
        _s(r"\b(?:revisa|revisión|revision de código|revisar)\w*\b", 2.5),
    ),
    DRAFTING: (
        _s(
            r"\b(?:formulier\w*|verfass\w*)\b.{0,40}\b(?:ankündigung|nachricht|beitrag|text|mail)\b|\bredacta\w*\b.{0,40}\b(?:documentación|guía|texto|nota)\b|\brédige\w*\b.{0,40}\b(?:documentation|guide|note)\b",
            3,
        ),
        _s(
            r"^[^\n]{0,40}?\b(?:email|e-mail|mail|cover letter|tweet|thread|linkedin post|post|announcement|product description|description|status (?:page )?update|release notes|narrative|postmortem|blog|newsletter|about (?:us )?page|bio|decline|invitation|speech|toast|apology|absage|anschreiben|lettre|courriel|correo|carta|texto|copy|tagline|faq|getting started|readme|page)\b",
            2.5,
        ),
        _s(
            r"\b(?:polite|friendly|short|warm|professional|not cringe|max one emoji|~?\d+ words)\b",
            1,
        ),
        _s(
            r"\b(?:formulier|verfass|schreib)\w*\b.{0,40}\b(?:absage|zusage|antwort|einladung)\b", 3
        ),
        _s(
            r"\b(?:write|draft|compose|prepare|pen)\b.{0,40}\b(?:email|e-mail|mail|post|blog|article|announcement|tweet|thread|newsletter|press release|cover letter|letter|bio|speech|toast|message|reply|response|copy|tagline|description|intro|invitation|apology|linkedin|readme section|faq)\b",
            3,
        ),
        _s(
            r"\b(?:email|e-mail|blog post|linkedin post|tweet|newsletter|press release|cover letter|slack message|announcement)\b",
            1.5,
        ),
        _s(r"\b(?:rewrite|rephrase|polish|proofread|make (?:it|this) (?:sound|more|less))\b", 1.5),
        _s(r"\b(?:tone|friendly|formal|persuasive|catchy|wording)\b", 0.8),
        _s(
            r"\b(?:schreib|verfasse|formuliere|entwirf)\w*\b.{0,40}\b(?:e-mail|mail|brief|beitrag|post|ankündigung|anschreiben|text)",
            3,
        ),
        _s(
            r"\b(?:rédige|écris|écrire|rédiger)\w*\b.{0,40}\b(?:e-mail|mail|courriel|lettre|article|annonce|post|message)",
            3,
        ),
        _s(
            r"\b(?:redacta|escribe|escribir|redactar)\w*\b.{0,40}\b(?:correo|email|carta|artículo|anuncio|post|publicación|mensaje)",
            3,
        ),
        _s(r"\bfrom (?:these|the|our) (?:agreed|bullet|key) points\b|\bagreed points\b", 2),
    ),
    RESEARCH: (
        _s(
            r"\b(?:anything interesting in|significant|significance|p-value|confidence interval|a/b test|benchmarked|what people say|qué dice la gente|was die leute|ce que disent|hn|hacker news|reddit|state of the art|landscape)\b",
            2.5,
        ),
        _s(
            r"\b(?:lit(?:erature)? review|key papers|which [\w ]{0,30}(?:providers|tools|vendors|services|libraries) (?:offer|support|have)|veille|vergleich\w*|themes|surveyed|cohorts?|churn|funnel|where are we losing|what might explain|foros|forums|retours d'expérience|who uses|quellenlage|landscape)\b",
            2.5,
        ),
        _s(
            r"\b(?:research|investigate|look into|dig into|survey|literature|sources|citations?|studies|evidence)\b",
            2,
        ),
        _s(r"\bcompare\b|\bcomparison\b|\bvs\.?\b|\bversus\b|\balternatives to\b", 1.5),
        _s(
            r"\banaly[sz](?:e|is|ing)\b|\bdataset\b|\bmetrics\b|\btrends?\b|\bcorrelat\w+|\bstatistic\w*",
            2,
        ),
        _s(
            r"\bmarket (?:size|research|analysis)\b|\bcompetitors?\b|\bbenchmarks?\b|\bwhat does the (?:data|research)\b",
            2,
        ),
        _s(
            r"\b(?:recherchiere|recherche|untersuche|vergleiche|analysiere|auswerten|studien|quellen)\b",
            2,
        ),
        _s(r"\b(?:recherche|compare|analyse|étudie|études|sources|enquête)\b", 2),
        _s(r"\b(?:investiga|compara|analiza|estudios|fuentes|análisis|analisis)\b", 2),
    ),
    CLASSIFY: (
        _s(
            r"\b(?:p[0-4] or p[0-4]|which (?:folder|department|team|bucket|label)|welche[nmr]? (?:ordner|abteilung|team|kategorie)|in welchen ordner|(?:a )?qué departamento|quel (?:service|dossier|département)|tóxicos? o no|toxic or not|oui ou non|sí o no)\b",
            3,
        ),
        _s(
            r"\b(?:spam o no|spam ou pas|spam oder nicht|which language is each|question or complaint|bug or feature|route (?:this|it) to|positiv, negativ|positive, negative|positiva, negativa|positif, négatif|which (?:one|of these) is)\b",
            3,
        ),
        _s(r"\b(?:classify|categori[sz]e|label|tag|triage|bucket)\b", 3),
        _s(r"\b(?:which|what) (?:category|label|team|queue|bucket|department|priority)\b", 3),
        _s(
            r"\b(?:route|assign|send|forward) (?:this|these|it|each) (?:ticket|email|request|issue)s?\b",
            2,
        ),
        _s(
            r"\bis (?:this|it) spam\b|\bspam or (?:not|ham)\b|\bphishing\b|\bsentiment\b|\bp[0-4]\b",
            2.5,
        ),
        _s(r"\b(?:positive|negative|neutral)\b.{0,30}\b(?:positive|negative|neutral)\b", 1.5),
        _s(r"\b(?:klassifizier|kategorisier|ordne)\w*\b|\bwelche kategorie\b", 3),
        _s(r"\b(?:classe|classer|catégoris|étiquet)\w*\b|\bquelle catégorie\b", 3),
        _s(r"\b(?:clasifica|categoriza|etiqueta)\w*\b|\bqué categoría\b", 3),
    ),
    BULK: (
        _s(r"^\W*(?:\w+[.!]?\s+)?(?:batch|lote|lot|charge) \d+\b", 3),
        _s(
            r"\b(?:(?:do|apply) the same (?:for|to) (?:the )?(?:remaining|rest|other)|remaining \d+|the rest of the (?:rows|list|file)|lo mismo (?:para|con) (?:el resto|los demás)|pareil pour (?:le reste|les autres))\b",
            3,
        ),
        _s(
            r"\b(?:each of (?:the|these)|every one of|for each of|alle \d|tous les \d|todas las \d|todos los \d|cada una? de (?:las|los)|cada uno de|chacun des|chacune des|jede[nm]? der|each one of)\b",
            2,
        ),
        _s(
            r"\b(?:all|each|every) (?:of )?(?:the )?(?:\d[\d,]* )?(?:rows?|records?|lines?|entries|items|strings|files|products|tickets|reviews|emails|addresses|names|urls|titles)\b",
            2.5,
        ),
        _s(
            r"\b\d{2,}[\d,.]*k?\s+(?:rows?|records?|lines?|entries|items|strings|files|products|tickets|reviews|emails|addresses|names|urls|titles|descriptions|skus|messages|comments)\b",
            3,
        ),
        _s(r"\b(?:in bulk|batch|bulk|en masse|for each (?:row|line|item|record))\b", 2),
        _s(r"\b(?:csv|spreadsheet|jsonl|column)\b", 1),
        _s(
            r"\b(?:alle|jede[nrs]?) (?:\d+ )?(?:zeilen|einträge|datensätze|produkte|texte|namen|adressen)\b",
            2.5,
        ),
        _s(
            r"\b(?:toutes les|tous les|chaque) (?:\d+ )?(?:lignes?|entrées|produits|adresses|noms|avis|titres)\b",
            2.5,
        ),
        _s(
            r"\b(?:todas las|todos los|cada) (?:\d+ )?(?:filas?|registros|productos|direcciones|nombres|reseñas|títulos)\b",
            2.5,
        ),
    ),
    SECURITY: (
        _s(
            r"\b(?:malicious|insider|dangerous|gefährlich|dangereux|peligroso|endurec\w*|endurez\w*|abhärt\w*|durcir|audit (?:this|our|my)|jndi|etc/passwd|\.\.%2f|brute[- ]?force|exfiltrat\w*|leaked|backdoor)",
            3,
        ),
        _s(
            r"\b(?:redos|stride|modèle de menaces|atacante|attacker|npm audit|vulns?|compromised|privilege escalation|iam policy|exploitable|least privilege)\b",
            3,
        ),
        _s(
            r"\bvulnerab\w+|\bexploit\w*|\bthreat model\w*|\bpen ?test\w*|\bcve-?\d*|\bowasp\b", 3.5
        ),
        _s(
            r"\b(?:xss|csrf|ssrf|rce|sqli|sql injection|injection|privilege escalation|path traversal|deserialization|idor|xxe|buffer overflow)\b",
            2.5,
        ),
        _s(
            r"\b(?:attack(?:er|s)?|attack surface|harden\w*|security audit|secure\b|insecure|leak(?:s|ing)? (?:secrets?|credentials|tokens?))",
            2,
        ),
        _s(
            r"\b(?:auth(?:entication|orization)? bypass|secrets?|credentials|tls|encryption|jwt|cors)\b",
            0.8,
        ),
        _s(r"\b(?:sicherheitslücke|schwachstelle|angriff\w*|sicherheit\w*)\b", 3),
        _s(r"\b(?:faille|failles|attaque|sécurité|vulnérabilit\w+)\b", 3),
        _s(r"\b(?:vulnerabilidad\w*|ataque\w*|seguridad|inyección)\b", 3),
    ),
    VIBE: (
        _s(
            r"\b(?:shrink|enlarge|too big|too small|way too|center it|align|sigue con|ponle|quita (?:el|la)|que quede|maintenant|tu peux arranger|arrange ça|mach (?:den|die|das)|jetzt noch)\b",
            1.5,
        ),
        _s(
            r"\b(?:botón|boton|bouton|menú|toggle|dashboard|modo oscuro|mode sombre|dunkelmodus|dropdown|tooltip)\b",
            0.5,
        ),
        _s(
            r"\b(?:keep going|let'?s vibe|we'?ll iterate|start (?:super |really )?simple|add (?:keyboard )?shortcuts|now add|now make|can you also)\b",
            2.5,
        ),
        _s(
            r"^\s*(?:ok(?:ay)?|cool|nice|great|now|next|also|and|hmm|nope|perfect|good)\b[\s,.!]*(?:now|next|also|can you|let'?s|make|add|change|move|remove)?",
            1.0,
        ),
        _s(
            r"\b(?:make|turn) (?:it|the \w+|that|this) (?:blue|red|green|bigger|smaller|bold|round\w*|responsive|sticky|faster|darker|lighter|dark|pop)\b",
            3,
        ),
        _s(
            r"\b(?:button|navbar|header|footer|sidebar|modal|css|tailwind|padding|margin|font|color|colour|dark mode|layout|animation|hover|ui|page|component)\b",
            1,
        ),
        _s(
            r"\b(?:still|now it) (?:broken|doesn'?t work|fails|crashes|errors)|\bit broke\b|\bthat broke\b|\btry again\b|\bundo that\b|\brevert that\b",
            2.5,
        ),
        _s(
            r"\b(?:let'?s|lets) (?:add|build|make|try|hack|wire|hook)\b|\bquick(?:ly)? (?:tweak|change|fix)\b|\btweak\b",
            2,
        ),
        _s(r"\b(?:vibe|prototype|hack on|pair|interactive(?:ly)?)\b", 1.5),
        _s(
            r"\b(?:jetzt|noch|mach|ändere|füge)\b.{0,30}\b(?:button|farbe|blau|rot|größer|hinzu)\b",
            2.5,
        ),
        _s(
            r"\b(?:maintenant|rends|ajoute|change)\b.{0,30}\b(?:bouton|couleur|bleu|rouge|plus grand)\b",
            2.5,
        ),
        _s(
            r"\b(?:ahora|haz|hazlo|añade|agrega|cambia)\b.{0,30}\b(?:botón|boton|color|azul|rojo|más grande)\b",
            2.5,
        ),
    ),
    DEBUG: (
        _s(
            r"\b(?:oom-?killed|memory leak|heap snapshots?|retained|fuite mémoire|speicherleck|fuga de memoria)\b",
            2.5,
        ),
        _s(
            r"\b(?:what'?s wrong|was ist (?:da )?falsch|qu'est-ce qui (?:cloche|ne va pas)|qué (?:está|esta) mal|lower than expected|higher than expected|unexpected(?:ly)?|warum bekomme ich|pourquoi j'ai|por qué me sale)\b",
            2.5,
        ),
        _s(
            r"\b(?:hangs?|stops? (?:consuming|responding|working)|dies|randomly|intermittent\w*|sometimes|1 in \d|keeps? (?:going into|crashing|restarting|dying)|infinite loop|en boucle|grows?|oom|lose|losing|can'?t log in|doesn'?t work|stopped working|no error|no idea (?:why|where)|only (?:with|when|in)|since (?:the|we)|seit dem|depuis)\b",
            1.5,
        ),
        _s(
            r"\bwhy (?:does|is|do|did|would)\b.{0,60}\b(?:fail|crash|hang|break|throw|error|return|leak|deadlock|slow|null|undefined|nan|segfault)\w*",
            3,
        ),
        _s(
            r"\b(?:debug|trace|tracing|root cause|stack ?trace|traceback|segfault|core dump|race condition|deadlock|memory leak|heisenbug|flaky)\b",
            2.5,
        ),
        _s(r"\b(?:crash\w*|hangs?|throws?|exception|error|failing|fails|broken|bug)\b", 1),
        _s(
            r"\b(?:warum|wieso|weshalb)\b.{0,60}\b(?:fehler|absturz|stürzt|hängt|schlägt fehl|funktioniert nicht)\w*",
            3,
        ),
        _s(
            r"\b(?:pourquoi)\b.{0,60}\b(?:erreur|plante|crash|échoue|bloque|ne marche pas|ne fonctionne pas)\w*",
            3,
        ),
        _s(
            r"\b(?:por qué|porque|por que)\b.{0,60}\b(?:error|falla|se cuelga|no funciona|crashea|excepción)\w*",
            3,
        ),
    ),
    GENERAL: (
        _s(
            r"^\W*how (?:do|can|should) i\b|\bany good (?:book|course|resource|podcast)s?\b|\brecommend (?:a|some) (?:book|course)s?\b",
            2,
        ),
        _s(
            r"\b(?:how do you say|comment (?:on )?dit|wie sagt man|cómo se dice|what does [\w ]{1,20} mean)\b",
            6,
        ),
        _s(
            r"^\W*(?:thanks|thank you|thx|merci|danke|gracias|that'?s all|cheers|bye)\b[^\n]{0,30}$",
            6,
        ),
        _s(
            r"\b(?:recipe|weather|trivia|joke|capital of|how many|who (?:was|is)|what is the|tell me about|explain (?:what|how|why))\b",
            1,
        ),
    ),
}

# Shapes seen in whole messages.
DIFF = re.compile(r"^(?:diff --git|@@ -\d|\+\+\+ |--- a/)", re.MULTILINE)
TRACE = re.compile(
    r"Traceback \(most recent call last\)|^[ \t]+at [\w$.<>]+\(.*\)$|^[ \t]+at .+:\d+:\d+\)?$|"
    r"panicked at|Exception in thread|^\w+(?:Error|Exception):|segmentation fault|core dumped|"
    r"^[ \t]*File \".+\", line \d+|error\[E\d+\]|FATAL|Uncaught \w+Error|^ERROR:|fatal error:|panic:|SIGSEGV|"
    r"CrashLoopBackOff|OOMKilled|deadlock detected|^FAILED |goroutine \d+ \[|APPLICATION FAILED TO START|"
    r"triggerUncaughtException|^Caused by:|^\S+ \d\d:\d\d:\d\d.{0,30}\b(?:ERROR|FATAL|CRITICAL)\b",
    re.MULTILINE,
)
TRANSCRIPT = re.compile(
    r"^[ \t]*(?:>[ \t]*)?(?:\[?\d{1,2}:\d{2}(?::\d{2})?\]?\s*)?[A-Z][a-z][\w .'-]{0,24}:\s+\S",
    re.MULTILINE,
)
CODE_LINE = re.compile(
    r"^[ \t]*(?:def |class |import |from \S+ import|function |const |let |var |public |private |"
    r"return |if \(|for \(|while \(|#include|fn |func |package |SELECT |INSERT |UPDATE |<\w+[ >]|"
    r"[\w.]+\(.*\);?$|[}{]\s*$)",
    re.MULTILINE,
)
DATA_ROW = re.compile(r"^[^\n,;|\t]{1,80}(?:[,;|\t][^\n,;|\t]{0,80}){2,}$", re.MULTILINE)
LIST_ITEM = re.compile(r"^[ \t]*(?:[-*•]|\d+[.)])[ \t]+\S", re.MULTILINE)
FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)

# Many items only make a bulk job when an operation is asked for ("translate 600 strings"),
# not when a number merely appears ("2000 events/s", "68 euros").
_ITEMS = (
    r"(?:rows?|lines?|records?|entries|items|files|products|tickets|reviews|emails|messages|addresses|names|"
    r"urls|titles|descriptions|images|strings|posts|repos|invoices|contacts|leads|customers|pages|"
    r"zeilen?|einträgen?|dateien|produkten?|lignes?|fichiers|produits|contacts|filas?|registros|"
    r"archivos|facturas|reseñas|productos)"
)
COUNT = re.compile(
    r"(?<![#v.\d])\b(?:[5-9]\d|\d{3,}|\d+k|\d{1,3}(?:[ .,]\d{3})+)\s+(?:[\w-]+\s+){0,2}[\w-]+(?:s|en|es|x)\b|"
    r"\b(?:unas|unos|about|around|approx\.?|environ|ca\.|etwa|~)\s*\d{2,}|"
    r"\b(?:hundreds|thousands|dozens|cientos|miles|centaines|milliers|hunderte|tausende)\b|"
    r"\b(?:all|each|every|todas las|todos los|toutes les|tous les|chaque|cada|alle|jede[nrs]?)\s+"
    r"(?:(?:the|of the|der|die|des|de|of)\s+)?(?:\d[\d.,]*\s+)?(?:[\w.-]+\s+)?" + _ITEMS + r"\b"
)
BULK_VERB = re.compile(
    r"\b(?:translate|convert|normali[sz]e|rename|summari[sz]e|extract|tag|label|classify|categori[sz]e|"
    r"clean|dedupe|bump|generate|rewrite|validate|reformat|migrate|fill in|enrich|score|update|"
    r"fix|correct|check|add|write|do the same|same for|summary|summaries|run|resumen|résumé|zusammenfassung|"
    r"bringen|umwandeln|formatier\w*|vereinheitlich\w*|einheitlich|"
    r"übersetz\w*|konvertier\w*|normalisier\w*|prüf\w*|korrigier\w*|"
    r"traduis|tradui\w*|convertis|normalise|extrai\w*|génère|convierte|traduce|genera|extrae|"
    r"clasifica|normaliza|renombra|actualiza)\b"
)
