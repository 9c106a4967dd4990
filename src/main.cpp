#include "seawall/app/server.hpp"

int main(int argc, char** argv) { return seawall::app::main_entry(argc, argv); }
