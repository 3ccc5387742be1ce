import GalaxyKit
print(try ShaderLibrary.spirv(named: "relu_forward").count)
