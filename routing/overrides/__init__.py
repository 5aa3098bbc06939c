"""Reading the person's directives: "use Opus for this", "from now on stick with sonnet".

`detector.OverrideDetector` reads one prompt; `directives.read_conversation` a whole
conversation; `revocations` hears "back to normal routing".
"""
