# lit configuration for the IR and driver tests: mixer-opt, mixerc and FileCheck from LLVM 19.
import os

import lit.formats

config.name = "mixerc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.mixerc_build_dir, "tests", "lit")
config.environment["PATH"] = os.pathsep.join(
    [config.llvm_tools_dir, os.path.dirname(config.mixer_opt), os.path.dirname(config.mixerc),
     config.environment.get("PATH", os.environ.get("PATH", ""))])
config.substitutions.append(("%mixer-opt", config.mixer_opt))
config.substitutions.append(("%mixerc", config.mixerc))
config.substitutions.append(("%specs", os.path.join(config.mixerc_source_dir, "specs")))
config.substitutions.append(("%testspecs", os.path.join(config.mixerc_source_dir, "tests", "specs")))
