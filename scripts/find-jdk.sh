# Sourced by ./test, ./tessera, .ci/run and scripts/*.sh: points JAVA_HOME at a JDK 25 or newer.
# Order: $JAVA_HOME if it is 25+, then the usual install folders, then the java on the PATH.
tessera_java_major() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p'
}
tessera_find_jdk() {
  local c
  for c in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/java-25-openjdk-amd64 /usr/lib/jvm/jdk-25* \
           /usr/lib/jvm/temurin-2[5-9]* /usr/lib/jvm/java-2[5-9]* "$(dirname "$(dirname "$(readlink -f "$(command -v java 2>/dev/null || echo /nonexistent)")")")"; do
    [ -n "$c" ] && [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    local v; v=$(tessera_java_major "$c")
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then export JAVA_HOME="$c"; return 0; fi
  done
  echo "Tessera needs a JDK 25 or newer. Install one (for example Temurin 25) and set JAVA_HOME to it." >&2
  return 1
}
tessera_find_jdk
# Maven 3.9's bundled Guice calls sun.misc.Unsafe, which JDK 24+ warns about on every build (JEP 471); the warning
# is about Maven itself, not Tessera, so the wrapper runs with that access allowed.
case " ${MAVEN_OPTS:-} " in *" --sun-misc-unsafe-memory-access="*) ;; *) export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" ;; esac
