/// `pgbak --config FILE now` and `pgbak -c FILE now`, as `patronictl -c FILE list` and `git -C DIR` take them: the
/// options every subcommand has (`--config`, `--log-level`, `--quiet`), given before the subcommand, are moved to
/// just after it, where the parser reads them. Anything else before the subcommand (`--help`, `--version`, a typo)
/// leaves the arguments as they are, for the parser to answer.
public enum GlobalArguments {
    static let withValue: [String: String] = ["--config": "--config", "-c": "--config", "--log-level": "--log-level"]
    static let flags: Set<String> = ["--quiet"]

    public static func reordered(_ arguments: [String], subcommands: Set<String>) -> [String] {
        var moved: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if subcommands.contains(argument) {
                guard !moved.isEmpty else { return arguments }
                return [argument] + moved + arguments[(index + 1)...]
            }
            if flags.contains(argument) {
                moved.append(argument)
                index += 1
            } else if let name = withValue[argument], index + 1 < arguments.count {
                moved += [name, arguments[index + 1]]
                index += 2
            } else if let equals = argument.firstIndex(of: "="), withValue[String(argument[..<equals])] != nil {
                moved.append(argument)
                index += 1
            } else {
                return arguments
            }
        }
        return arguments
    }
}
