#!/bin/sh
# embed.sh NAME FILE -- prints a C file defining `const char NAME[]` with FILE's text.
set -eu
printf '/* generated from %s by scripts/embed.sh -- do not edit */\n' "$2"
printf 'extern const char %s[];\nconst char %s[] =\n' "$1" "$1"
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$/\\n"/' "$2"
printf '    "";\n'
