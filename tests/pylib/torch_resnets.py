"""The ResNets of models/lib/resnet.json as PyTorch modules, named as kiln
names them: He et al.'s CIFAR ResNet-(6n+2) and torchvision's ResNets
with the small-image stem. For the parity checks and the PyTorch
reference trainer (bench/resnet-torch); torch is passed in, so importing
this needs no torch."""


def cifar_resnet(torch, n, in_channels, classes):
    """He et al.'s CIFAR ResNet-(6n+2) with option-A shortcuts, named as
    models/lib/resnet.json names it."""
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.pad = (cout - cin) // 2 if stride != 1 or cin != cout else None

        def forward(self, x):
            y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            if self.pad is not None:
                x = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
            return F.relu(y + x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            cin = 16
            for i, w in enumerate([16, 32, 64]):
                blocks = [Block(cin if j == 0 else w, w, (1 if i == 0 else 2) if j == 0 else 1)
                          for j in range(n)]
                setattr(self, 'layer%d' % (i + 1), nn.Sequential(*blocks))
                cin = w
            self.fc = nn.Linear(64, classes)

        def forward(self, x):
            x = F.relu(self.bn1(self.conv1(x)))
            x = self.layer3(self.layer2(self.layer1(x)))
            return self.fc(x.mean(dim=(2, 3)))

    return Net()


def small_stem_resnet(torch, torchvision, name, in_channels, classes):
    """A torchvision ResNet with the small-image stem of models/lib/resnet.json."""
    net = getattr(torchvision.models, name)(num_classes=classes)
    net.conv1 = torch.nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
    net.maxpool = torch.nn.Identity()
    return net
