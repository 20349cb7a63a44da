"""Runs one Eclipse Paho interoperability suite (unmodified, from shared/third_party) and prints one line per test:
PAHO {"test": name, "outcome": "pass" | "fail" | "error" | "timeout", "seconds": s}, after a first line
PAHO-TESTS [every test name, in run order].

Why a runner:
- the suites call unittest.main(), which re-reads argv (and client_test.py's `-h` prints the help): we pass their
  options, then make unittest.main() use an argv of our own (with the test names to run, if given);
- a test that waits in a loop for something a broker never sends (the suites swallow every exception in their
  socket writes, so no exception can interrupt them) would hang: each test has an alarm (PAHO_TEST_TIMEOUT s) that
  reports it as "timeout" and ends the process; the caller starts it again for the tests not yet run;
- the suites give a CONNACK 0.5 s (socket timeout). Through a bridge and a TLS handshake on a shared 2-core
  machine that measures the machine, not the broker: socket timeouts below PAHO_MIN_SOCKET_TIMEOUT (default 2 s)
  are raised to it, for every broker alike. (One test, flow_control1, waits for such a timeout on purpose: it
  waits 2 s instead of 0.5 s.)

usage: python3 run_suite.py <suite.py> <port> [test_name ...]
"""
import json
import os
import runpy
import signal
import socket
import sys
import time
import unittest

suite_path, port, only = sys.argv[1], sys.argv[2], sys.argv[3:]
timeout = int(os.environ.get("PAHO_TEST_TIMEOUT", "40"))
min_socket_timeout = float(os.environ.get("PAHO_MIN_SOCKET_TIMEOUT", "2"))
sys.path.insert(0, os.path.dirname(os.path.abspath(suite_path)))


def report(name, outcome, started):
    line = {"test": name, "outcome": outcome, "seconds": round(time.time() - started, 1)}
    sys.__stdout__.write("PAHO " + json.dumps(line) + "\n")
    sys.__stdout__.flush()


real_settimeout = socket.socket.settimeout


def settimeout(self, value):
    if value is not None and 0 < value < min_socket_timeout:
        value = min_socket_timeout
    return real_settimeout(self, value)


socket.socket.settimeout = settimeout


class Reporting(unittest.TextTestResult):
    def startTest(self, test):
        started = self._started = time.time()
        self._outcome_name = "pass"
        name = test._testMethodName

        def on_alarm(signum, frame):
            report(name, "timeout", started)
            sys.__stderr__.write("%s: no outcome within %d s\n" % (name, timeout))
            sys.__stderr__.flush()
            os._exit(3)

        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(timeout)
        super().startTest(test)

    def stopTest(self, test):
        signal.alarm(0)
        super().stopTest(test)
        report(test._testMethodName, self._outcome_name, self._started)

    def addFailure(self, test, err):
        self._outcome_name = "fail"
        super().addFailure(test, err)

    def addError(self, test, err):
        self._outcome_name = "error"
        super().addError(test, err)


real_main = unittest.main


def main(*args, **kwargs):
    names = unittest.TestLoader().getTestCaseNames(sys.modules["__main__"].Test)
    sys.__stdout__.write("PAHO-TESTS " + json.dumps(list(names)) + "\n")
    sys.__stdout__.flush()
    kwargs.update(argv=[suite_path] + ["Test." + name for name in only], exit=False,
                  testRunner=unittest.TextTestRunner(resultclass=Reporting, verbosity=2, stream=sys.stderr))
    return real_main(*args, **kwargs)


unittest.main = main
# "--port N" as two arguments: client_test5.py removes exactly those from argv.
sys.argv = [suite_path, "--hostname=127.0.0.1", "--port", port]
runpy.run_path(suite_path, run_name="__main__")
