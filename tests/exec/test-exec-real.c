#include "exec-test.h"
int main(void) { return 0; }
